"""Route events by call type: those the destination takes go on (track, identify and group for
Gainsight CS; page too for Gainsight PX); the rest are counted per type.

One output, not one per type: the call type travels in the event, Whitelist looks only at
tracks, and AttachAccountId treats each type by its own rule. Separate outputs would need a
Flatten to meet again, and Beam's local runner writes every Flatten's input out and reads it
back (measured: 1.1 s of a 9.5 s run of 200k events).
"""
import apache_beam as beam

from transforms.common import counters, tags


def route_check(call_types=tags.SENDABLE_TYPES):
    """-> passes(event, count): True for the call types the destination takes; any other type
    is counted (unsupported, unsupported.<type>) and False. The one rule RouteFn and the batch
    fusion (transforms.stages.prepare) apply.

    >>> passes, counted = route_check(("track",)), []
    >>> passes({"type": "track"}, counted.append), passes({"type": "screen"}, counted.append), counted
    (True, False, ['unsupported', 'unsupported.screen'])
    """
    call_types = frozenset(call_types)

    def passes(event: dict, count) -> bool:
        call_type = event["type"]
        if call_type in call_types:
            return True
        count(counters.UNSUPPORTED)
        count(counters.unsupported_type(call_type))
        return False
    return passes


class RouteFn(counters.CountingDoFn):
    def __init__(self, call_types=tags.SENDABLE_TYPES):
        self._call_types = tuple(call_types)

    def setup(self):
        self._passes = route_check(self._call_types)

    def process(self, sourced):
        if self._passes(sourced[1], self.count):
            yield sourced


class RouteByCallType(beam.PTransform):
    """(origin, event) pairs -> those whose call type is in `call_types`; the others counted
    as unsupported, per type."""

    def __init__(self, call_types=tags.SENDABLE_TYPES):
        super().__init__()
        self._call_types = tuple(call_types)

    def expand(self, events):
        return events | beam.ParDo(RouteFn(self._call_types))
