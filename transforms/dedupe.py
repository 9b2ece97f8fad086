"""Deduplicate on messageId, as Segment does: the first copy wins, later copies are counted.

Batch: "first" is the earliest (path, line number), so the winner does not depend on how the
runner ordered the work. Streaming: the first to arrive wins, and each messageId is remembered
in per-key state until the watermark passes its first copy's timestamp (the Pub/Sub publish
time) plus `window_hours` (Segment's window is 24 hours), so a redelivery, which keeps its
publish time, is dropped however late it comes inside the window. Event time rather than
processing time, so that the window means the same on a backlog and under TestStream. Parse has already given every event a
messageId (derived from its content when the source had none).
"""
import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from transforms import counters


def keep_first(candidates):
    """(origin, event) pairs of one messageId -> (winning event, number of copies).

    >>> keep_first([(("b.gz", 1), {"v": 2}), (("a.gz", 9), {"v": 1})])
    ({'v': 1}, 2)
    """
    origin, event, copies = _merge(candidate + (1,) for candidate in candidates)
    return event, copies


def _merge(accumulators):
    best = None
    copies = 0
    for origin, event, count in accumulators:
        copies += count
        if best is None or origin < best[0]:
            best = (origin, event)
    return (None, None, 0) if best is None else (best[0], best[1], copies)


class KeepFirstFn(beam.CombineFn):
    """CombineFn form of keep_first, so copies are merged before the shuffle (combiner lifting)."""

    def create_accumulator(self):
        return (None, None, 0)

    def add_input(self, accumulator, candidate):
        return self.merge_accumulators([accumulator, candidate + (1,)])

    def merge_accumulators(self, accumulators):
        return _merge(acc for acc in accumulators if acc[2])

    def extract_output(self, accumulator):
        _, event, copies = accumulator
        return event, copies


class CountDuplicatesFn(beam.DoFn):
    """(messageId, (event, copies)) -> event; copies beyond the first are counted."""

    def __init__(self):
        self._duplicates = counters.counter(counters.DUPLICATES)

    def process(self, keyed):
        _, (event, copies) = keyed
        if copies > 1:
            self._duplicates.inc(copies - 1)
        yield event


class RememberMessageIdsFn(beam.DoFn):
    """Streaming: (messageId, (origin, event)) -> event the first time the id is seen within
    the window; later copies are counted as duplicates. An event-time timer forgets the id."""

    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, window_hours: float):
        self._window = Duration(seconds=window_hours * 3600)
        self._duplicates = counters.counter(counters.DUPLICATES)

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam,
                seen=beam.DoFn.StateParam(SEEN), forget=beam.DoFn.TimerParam(FORGET)):
        if seen.read():
            self._duplicates.inc()
            return
        seen.write(True)
        forget.set(timestamp + self._window)
        yield keyed[1][1]

    @on_timer(FORGET)
    def forget_message_id(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


class DedupeByMessageId(beam.PTransform):
    """(origin, event) -> event, one per messageId.

    Batch: a combine keyed by messageId. Streaming: per-messageId state for `window_hours`.
    """

    def __init__(self, streaming: bool = False, window_hours: float = 24.0):
        super().__init__()
        self._streaming = streaming
        self._window_hours = window_hours

    def expand(self, sourced_events):
        keyed = sourced_events | "KeyByMessageId" >> beam.Map(
            lambda sourced: (sourced[1]["messageId"], sourced)).with_output_types(
                beam.typehints.KV[str, beam.typehints.Any])
        if self._streaming:
            return keyed | "RememberMessageIds" >> beam.ParDo(RememberMessageIdsFn(self._window_hours))
        return (keyed
                | "KeepFirst" >> beam.CombinePerKey(KeepFirstFn())
                | "CountDuplicates" >> beam.ParDo(CountDuplicatesFn()))
