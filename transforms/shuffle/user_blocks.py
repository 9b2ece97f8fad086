"""Batch: sendable events travel to the per-user step in blocks, not one element each.

    (own key, origin id, event) ... ─► UserBlocks ─► (bucket, block) ─► GroupByUser ─► (bucket, [block, ...])
                                                                          ─► by_user() ─► {key: [(origin id, event bytes)]}

Beam's local runner does several layers of per-element work for every element that crosses a
shuffle (encoding, the runner's grouping buffer, decoding, dispatch into the DoFn); a block of a
few hundred events pays it once. The bucket is a stable hash of the user key, so every event
of a user lands in the same bucket, and the per-user step regroups a bucket's rows by key.

A block is bytes: one JSON header line [[key, path id, line], ...] and then each event's compact
JSON (transforms.common.jsonio.pack) on a line of its own, in the header's order. Compact JSON never
holds a raw newline (JSON escapes it inside strings), so the lines split back exactly. Events
stay bytes until their user's turn: a bucket's events are held as bytes, not as dicts.

The number of buckets bounds both the per-user step's parallelism and what one bucket holds:
user_buckets() scales it with the input's size.

>>> blocks = UserBlocks(buckets=4)
>>> blocks.add("u:1", (7, 1), {"messageId": "m1"}); blocks.add("u:1", (7, 2), {"messageId": "m2"})
>>> [(bucket, dict(by_user([join_block(parts)]))) for bucket, parts in blocks.drain()]
[(2, {'u:1': [((7, 1), b'{"messageId":"m1"}'), ((7, 2), b'{"messageId":"m2"}')]})]
"""
import itertools
import math
import zlib

import orjson

from transforms.common.jsonio import pack

MIN_BUCKETS = 64
MAX_BUCKETS = 16_384
BUCKET_INPUT_BYTES = 8 << 20   # input bytes (as stored, gzip or not) per bucket
_SEPARATOR = b"\n"


def user_buckets(input_bytes: int | None) -> int:
    """How many buckets for an input of `input_bytes` (None: not known, as for most tests):
    MIN_BUCKETS up to 8 MiB x MIN_BUCKETS of input, then one per 8 MiB, at most MAX_BUCKETS.

    >>> user_buckets(None), user_buckets(100 << 20), user_buckets(10 << 30)
    (64, 64, 1280)
    """
    if not input_bytes:
        return MIN_BUCKETS
    return max(MIN_BUCKETS, min(MAX_BUCKETS, math.ceil(input_bytes / BUCKET_INPUT_BYTES)))


def key_hash(key: str) -> int:
    """A stable (process-independent) hash of a user key, to tell groups apart compactly."""
    return zlib.crc32(key.encode("utf-8"))


def bucket_of(key_hashed: int, buckets: int) -> int:
    """The bucket of a user key's stable hash (key_hash)."""
    return key_hashed % buckets


class UserBlocks:
    """Rows buffered per bucket; drain() -> [(bucket, parts of its block)]."""

    def __init__(self, buckets: int):
        self._buckets = buckets
        self._rows: dict[int, tuple] = {}   # bucket -> ([header row, ...], [packed event, ...])
        self.size = 0

    def add(self, key: str, origin: tuple, event: dict, key_hashed: int | None = None):
        bucket = bucket_of(key_hash(key) if key_hashed is None else key_hashed, self._buckets)
        rows = self._rows.get(bucket)
        if rows is None:
            rows = self._rows[bucket] = ([], [])
        rows[0].append((key, origin[0], origin[1]))
        rows[1].append(pack(event))
        self.size += 1

    def drain(self) -> list:
        """-> [(bucket, parts)] of the non-empty buckets: join_block(parts) is the block, and
        block_chunks(parts) its bytes in pieces (to write it without joining it first)."""
        parts = [(bucket, [orjson.dumps(headers), *events])
                 for bucket, (headers, events) in self._rows.items()]
        self._rows, self.size = {}, 0
        return parts


def join_block(parts: list) -> bytes:
    """UserBlocks.drain()'s parts -> the block."""
    return _SEPARATOR.join(parts)


def block_chunks(parts: list):
    """UserBlocks.drain()'s parts -> the block's bytes in pieces, in order (b"".join() of them
    is join_block(parts))."""
    return itertools.chain(parts[:1], itertools.chain.from_iterable(
        zip(itertools.repeat(_SEPARATOR), itertools.islice(parts, 1, None))))


def by_user(blocks) -> dict:
    """A bucket's blocks -> {key: [(origin id, event bytes), ...]} (unpack() each event when
    its user's turn comes)."""
    users: dict[str, list] = {}
    for block in blocks:
        header, *events = block.split(_SEPARATOR)
        for (key, path_id, line), event in zip(orjson.loads(header), events, strict=True):
            rows = users.get(key)
            if rows is None:
                rows = users[key] = []
            rows.append(((path_id, line), event))
    return users
