"""Deduplicate on messageId, as Segment does: the first copy wins, later copies are counted.

Dedupe runs after Consent, RouteByCallType and Whitelist, on the events that will be sent: a
backfill is about half page/screen calls and tracks off the whitelist, and those need no
comparing. A copy of a skipped event is counted under the same reason as the event (Segment's
copies of one message are the same message); `duplicates` counts the later copies of events
that would have been sent.

Batch: "first" is the earliest (path, line number), so the winner does not depend on how the
runner ordered the work. Streaming: the first to arrive wins, and each messageId is remembered
in per-key state until the watermark passes its first copy's timestamp (the Pub/Sub publish
time) plus `window_hours` (Segment's window is 24 hours), so a redelivery, which keeps its
publish time, is dropped however late it comes inside the window. Event time rather than
processing time, so that the window means the same on a backlog and under TestStream.
Parse has already given every event a messageId (derived from its content when it had none).
"""
import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from transforms import counters
from transforms.jsonio import pack, unpack


def keep_first(candidates):
    """(origin, event) pairs of one messageId -> (winning event, number of copies).

    >>> keep_first([(("b.gz", 1), {"v": 2}), (("a.gz", 9), {"v": 1})])
    ({'v': 1}, 2)
    """
    copies = 0
    best_origin = best_event = None
    for origin, event in candidates:
        copies += 1
        if best_origin is None or origin < best_origin:
            best_origin, best_event = origin, event
    return best_event, copies


class KeepFirstFn(counters.CountingDoFn):
    """(messageId, [packed (origin, event), ...]) -> the first event; later copies are counted.

    A GroupByKey and not a CombineFn: nearly every messageId is unique, so combiner lifting
    would only add work before the shuffle.
    """

    def process(self, keyed_copies):
        event, copies = keep_first(map(unpack, keyed_copies[1]))
        if copies > 1:
            self.count(counters.DUPLICATES, copies - 1)
        yield event


class RememberMessageIdsFn(counters.CountingDoFn):
    """Streaming: (messageId, (origin, event)) -> event the first time the id is seen within
    the window; later copies are counted as duplicates. An event-time timer forgets the id."""

    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, window_hours: float):
        self._window = Duration(seconds=window_hours * 3600)

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam,
                seen=beam.DoFn.StateParam(SEEN), forget=beam.DoFn.TimerParam(FORGET)):
        if seen.read():
            self.count(counters.DUPLICATES)
            return
        seen.write(True)
        forget.set(timestamp + self._window)
        yield keyed[1][1]

    @on_timer(FORGET)
    def forget_message_id(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


class DedupeByMessageId(beam.PTransform):
    """(origin, event) -> event, one per messageId.

    Batch: a GroupByKey on messageId. Streaming: per-messageId state for `window_hours`.
    """

    def __init__(self, streaming: bool = False, window_hours: float = 24.0):
        super().__init__()
        self._streaming = streaming
        self._window_hours = window_hours

    def expand(self, sourced_events):
        if self._streaming:
            return (sourced_events
                    | "KeyByMessageId" >> beam.Map(lambda sourced: (sourced[1]["messageId"], sourced))
                    .with_output_types(beam.typehints.KV[str, beam.typehints.Any])
                    | "RememberMessageIds" >> beam.ParDo(RememberMessageIdsFn(self._window_hours)))
        return (sourced_events
                | "KeyByMessageId" >> beam.Map(lambda sourced: (sourced[1]["messageId"], pack(sourced)))
                | "GroupByMessageId" >> beam.GroupByKey()
                | "KeepFirst" >> beam.ParDo(KeepFirstFn()))
