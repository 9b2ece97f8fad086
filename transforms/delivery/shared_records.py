"""Records that several batches of a backfill write (a company, which many users' group calls
name), merged over the whole run so that every batch writes the same values, and the order in
which batches are delivered no longer decides what the destination ends up holding.

A destination that has such records gives `shared_records(body) -> [(key, order, record)]`;
here they become one record per key, each field's latest value in `order`, and the sink hands
them to its deliver() as `shared` ({key: record}):

    group Hooli {"Plan": "free"}    (order 1)  ┐
    group Hooli {"Plan": "paid"}    (order 3)  ├─► "Hooli": {"Plan": "paid", "Industry": "Search"}
    group Hooli {"Industry": "Search"} (order 2) ┘

Batch only: a stream has no end to merge over (its batches merge what they hold).
"""
import apache_beam as beam


def merge_field(latest: dict, order, record: dict) -> dict:
    """Folds one record into {field: (order, value)}, keeping each field's latest value.

    >>> merge_field(merge_field({}, (1,), {"Plan": "free", "Seats": 3}), (0,), {"Plan": "trial"})
    {'Plan': ((1,), 'free'), 'Seats': ((1,), 3)}
    """
    for name, value in record.items():
        held = latest.get(name)
        if held is None or order >= held[0]:
            latest[name] = (order, value)
    return latest


class LatestFields(beam.CombineFn):
    """(order, record) values of one key -> the record of each field's latest value."""

    def create_accumulator(self):
        return {}

    def add_input(self, mutable_accumulator, element):
        order, record = element
        return merge_field(mutable_accumulator, order, record)

    def merge_accumulators(self, accumulators):
        merged = {}
        for accumulator in accumulators:
            for name, (order, value) in accumulator.items():
                merge_field(merged, order, {name: value})
        return merged

    def extract_output(self, accumulator):
        return {name: value for name, (_, value) in accumulator.items()}


class MergeSharedRecords(beam.PTransform):
    """Requests ((messageId, body), or (user, (messageId, body)) when `keyed`) -> (key, merged
    record), one per key that `shared_records` finds in their bodies."""

    def __init__(self, shared_records, keyed: bool = False):
        super().__init__()
        self._shared_records = shared_records
        self._keyed = keyed

    def expand(self, requests):
        shared_records, keyed = self._shared_records, self._keyed
        return (requests
                | "SharedRecords" >> beam.FlatMap(
                    lambda request: ((key, (order, record)) for key, order, record
                                     in shared_records((request[1] if keyed else request)[1])))
                | "LatestFields" >> beam.CombinePerKey(LatestFields()))
