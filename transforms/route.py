"""Route events by call type: track, identify and group go on; the rest are counted per type."""
import apache_beam as beam

from transforms import counters, tags


class RouteFn(counters.CountingDoFn):
    def process(self, event):
        call_type = event["type"]
        if call_type in tags.SENDABLE_TYPES:
            yield beam.pvalue.TaggedOutput(call_type, event)
        else:
            self.count(counters.UNSUPPORTED)
            self.count(counters.unsupported_type(call_type))


class RouteByCallType(beam.PTransform):
    """Events -> {TRACK: ..., IDENTIFY: ..., GROUP: ...}; page/screen/alias/other counted."""

    def expand(self, events):
        routed = events | beam.ParDo(RouteFn()).with_outputs(*tags.SENDABLE_TYPES)
        return {call_type: routed[call_type] for call_type in tags.SENDABLE_TYPES}
