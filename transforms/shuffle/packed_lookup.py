"""Batch side inputs as packed tables: {bucket: packed {key: value}}, decoded when looked up.

    producer: (table_bucket(key), pack({key: value, ...})) per bucket ─► AsDict ─► PackedTable.get(key)

The link table (anonymousId -> link runs) and the histories (owner -> facts) have an entry per
anonymousId or user: tens of thousands of elements. As one element each they cost Beam's
per-element work where they are made, and again where the side input is read: the SDK harness
weighs every side input it caches by walking each object in it (objsize), 0.08 s per 3,000
histories held as objects (bench B1). Packed per bucket they are TABLE_BUCKETS elements of bytes;
a DoFn decodes a bucket when it first looks a key of it up, and each value once.

>>> table = {table_bucket("k"): pack({"k": [1, 2]})}
>>> lookup = PackedTable(tuple).view(table)
>>> lookup.get("k"), lookup.get("missing", "-")
((1, 2), '-')
"""
from transforms.shuffle.user_blocks import key_hash
from transforms.common.jsonio import pack, unpack

TABLE_BUCKETS = 64


def table_bucket(key: str) -> int:
    """The bucket of `key` in a packed table (the same in every process)."""
    return key_hash(key) % TABLE_BUCKETS


def packed_buckets(entries) -> list:
    """(key, JSON-able value) entries -> [(bucket, pack({key: value}))] of the non-empty buckets
    (a key given twice keeps its last value)."""
    buckets: dict[int, dict] = {}
    for key, value in entries:
        bucket = table_bucket(key)
        table = buckets.get(bucket)
        if table is None:
            table = buckets[bucket] = {}
        table[key] = value
    return [(bucket, pack(table)) for bucket, table in buckets.items()]


class PackedTable:
    """view(side input {bucket: packed table}) -> self, reading it; get(key, default) ->
    decode(the key's JSON value). Decoded buckets and values are kept while the same side input
    is viewed (a bundle's)."""

    def __init__(self, decode):
        self._decode = decode
        self._packed = None
        self._buckets, self._decoded = {}, {}

    def view(self, packed: dict) -> "PackedTable":
        if packed is not self._packed:
            self._packed, self._buckets, self._decoded = packed, {}, {}
        return self

    def get(self, key, default=None):
        if key is None:
            return default
        try:
            value = self._decoded[key]
        except KeyError:
            bucket = table_bucket(key)
            table = self._buckets.get(bucket)
            if table is None:
                data = self._packed.get(bucket)
                table = self._buckets[bucket] = {} if data is None else unpack(data)
            raw = table.get(key)
            value = self._decoded[key] = None if raw is None else self._decode(raw)
        return default if value is None else value
