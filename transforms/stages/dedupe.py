"""Deduplicate on messageId, as Segment does: the first copy wins, later copies are counted.

Dedupe compares the events that will be sent (after Consent, RouteByCallType and Whitelist): a
copy of a skipped event is counted under the same reason as the event; `duplicates` counts the
later copies of events that are sent.

Batch: no full-event shuffle of its own. The winner is the earliest (path, line number) copy,
whatever order the runner did the work in. Copies of a message nearly always share their own
key (userId, else anonymousId), so they meet in AttachAccountId's per-user grouping; but the
rare copies that differ in their ids (one anonymous-only, one with a userId) do not. So a
compact check decides: every sendable event also leaves a row [messageId, path, line, fact]
(CopyLedger: the rows of a bundle travel as a few dozen packed blocks per messageId bucket,
not one element per event); `settle_message_ids` names, for each messageId that has several
copies (about 1% of a backfill), the winning copy by a compact id of its origin (a 64-bit hash
of the path, the line), and collects the winners' identify/group facts (only calls that passed
Dedupe teach history). The per-user step reads the winners as a small side input and
`settle_copies` sends the named copy, counting the others as duplicates.

Streaming: the first to arrive wins, and each messageId is remembered in per-key state until
the watermark passes its first copy's timestamp (the Pub/Sub publish time) plus `window_hours`
(Segment's window is 24 hours), so a redelivery, which keeps its publish time, is dropped
however late it comes inside the window. Parse has given every event a messageId.
"""
import hashlib
import math
import zlib

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Duration, Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from transforms.common import counters
from transforms.stages.accounts import account_fact, user_key
from transforms.common.jsonio import pack, unpack

BUCKETS = 64            # blocks of copy rows per flush
FLUSH_EVERY = 20_000    # rows buffered per bundle before they are sent on


def origin_id(path: str, line: int) -> tuple[int, int]:
    """A compact, process-independent id of an origin: (64-bit hash of the path, line)."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest(), "big"), line


def settle_copies(candidates, winners: dict, settled=()):
    """(origin id, event) pairs of one user's group -> (the events to send, copies not sent,
    copies already settled).

    THE place where the copy of each messageId to send is chosen: the copy `winners` names
    (messageId -> origin id of the earliest copy, for messageIds with several copies, wherever
    they are), else the only copy; and where a resumed backfill asks "settled already?": a
    chosen copy whose messageId `settled` (the --checkpoint's SettledIds) holds is not sent.
    The copy's facts are learned regardless: SettleCopies takes history from the copy rows.

    >>> a, b = {"messageId": "m1", "v": 2}, {"messageId": "m1", "v": 1}
    >>> settle_copies([((7, 1), a), ((3, 9), b)], {"m1": (3, 9)})
    ([((3, 9), {'messageId': 'm1', 'v': 1})], 1, 0)
    >>> settle_copies([((7, 1), a)], {"m1": (3, 9)})
    ([], 1, 0)
    >>> settle_copies([((3, 9), b)], {}, settled={"m1"})
    ([], 0, 1)
    """
    sent, copies, seen, already = [], 0, set(), 0
    for origin, event in candidates:
        origin = tuple(origin)
        copies += 1
        message_id = event["messageId"]
        winner = winners.get(message_id)
        if winner is None:
            if message_id in seen:   # not named by the check: cannot happen; never send twice
                continue
            seen.add(message_id)
        elif tuple(winner) != origin:
            continue
        if message_id in settled:
            already += 1
            continue
        sent.append((origin, event))
    return sent, copies - len(sent) - already, already


def copy_row(origin, event: dict, path_index: int) -> tuple:
    """(messageId, path index, line, fact) with fact = [key, instant, account] of an
    identify/group call naming an account, else None (instant -inf as None)."""
    fact = None
    if event.get("type") in _FACT_TYPES:
        fact = account_fact(event)
        if fact is not None:
            fact = [user_key(event), None if fact[0] == -math.inf else fact[0], fact[1]]
    return event["messageId"], path_index, origin[1], fact


_FACT_TYPES = frozenset(("identify", "group"))


class CopyLedger:
    """Buffers copy rows; drain() -> [(bucket, packed {"paths": [...], "rows": [...]})]."""

    def __init__(self):
        self._paths, self._path_index = [], {}
        self._rows = [[] for _ in range(BUCKETS)]
        self.size = 0

    def add(self, origin, event: dict):
        path = origin[0]
        index = self._path_index.get(path)
        if index is None:
            index = self._path_index[path] = len(self._paths)
            self._paths.append(path)
        row = copy_row(origin, event, index)
        self._rows[zlib.crc32(row[0].encode("utf-8")) % BUCKETS].append(row)
        self.size += 1

    def drain(self):
        blocks = [(bucket, pack({"paths": self._paths, "rows": rows}))
                  for bucket, rows in enumerate(self._rows) if rows]
        self.__init__()
        return blocks


def unpack_rows(blocks):
    """Packed blocks -> (messageId, (path, line), fact) rows."""
    for block in blocks:
        data = unpack(block)
        paths = data["paths"]
        for message_id, path_index, line, fact in data["rows"]:
            yield message_id, (paths[path_index], line), fact


def settle_message_ids(rows):
    """Copy rows -> (winners {messageId: origin id of its earliest copy} for the messageIds with
    several copies, the winning copies' facts [(key, instant, account)]).

    >>> rows = [("m1", ("b", 1), None), ("m1", ("a", 2), ["a:x", 5.0, "A"]), ("m2", ("a", 3), None)]
    >>> winners, facts = settle_message_ids(rows)
    >>> winners == {"m1": origin_id("a", 2)}, facts
    (True, [('a:x', 5.0, 'A')])
    """
    best, copies = {}, {}
    for message_id, origin, fact in rows:
        known = best.get(message_id)
        if known is None:
            best[message_id] = (origin, fact)
            copies[message_id] = 1
            continue
        copies[message_id] += 1
        if origin < known[0]:
            best[message_id] = (origin, fact)
    winners = {message_id: origin_id(*best[message_id][0])
               for message_id, count in copies.items() if count > 1}
    facts = [(fact[0], -math.inf if fact[1] is None else fact[1], fact[2])
             for _, fact in best.values() if fact is not None]
    return winners, facts


def finish_bundle_value(value):
    """A value emitted from finish_bundle (batch, global window)."""
    return WindowedValue(value, Timestamp(0), [GlobalWindow()])


class RememberMessageIdsFn(counters.CountingDoFn):
    """Streaming: (messageId, (origin, event, owner)) -> (owner, event) the first time the id is
    seen within the window; later copies are counted as duplicates. An event-time timer forgets
    the id."""

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
        _, event, owner = keyed[1]
        yield owner, event

    @on_timer(FORGET)
    def forget_message_id(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


class DedupeByMessageId(beam.PTransform):
    """Streaming: (origin, event, owner) -> (owner, event), one per messageId within
    `window_hours`. (Batch deduplicates inside AttachAccountId's per-user grouping.)"""

    def __init__(self, window_hours: float = 24.0):
        super().__init__()
        self._window_hours = window_hours

    def expand(self, sourced_events):
        return (sourced_events
                | "KeyByMessageId" >> beam.Map(lambda sourced: (sourced[1]["messageId"], sourced))
                .with_output_types(beam.typehints.KV[str, beam.typehints.Any])
                | "RememberMessageIds" >> beam.ParDo(RememberMessageIdsFn(self._window_hours)))
