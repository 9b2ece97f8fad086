"""Deduplicate on messageId, as Segment does: the first copy wins, later copies are counted.

"First" is the earliest (path, line number), so the winner does not depend on how the runner
ordered the work. Parse has already given every event a messageId (derived from its content
when the source had none), so re-reading a file never double-sends.
"""
import apache_beam as beam

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


class DedupeByMessageId(beam.PTransform):
    """(origin, event) -> event, one per messageId (batch: a combine keyed by messageId)."""

    def expand(self, sourced_events):
        return (sourced_events
                | "KeyByMessageId" >> beam.Map(lambda sourced: (sourced[1]["messageId"], sourced))
                | "KeepFirst" >> beam.CombinePerKey(KeepFirstFn())
                | "CountDuplicates" >> beam.ParDo(CountDuplicatesFn()))
