"""Identity: which user an event belongs to, as Segment users expect (anonymous visitors
stitched to the user they become). Plain functions; LinkIdentities wires them.

A link says "this anonymousId is this userId, as of this instant". Every valid event that
passed Consent and carries both ids teaches one, whatever its type and whether or not it is
sent (identify usually; tracks and pages after login too); so does every consented alias call
(previousId -> userId). A call skipped by Consent links nothing.

    >>> identity_link({"type": "page", "userId": "u1", "anonymousId": "a1",
    ...                "timestamp": "2024-11-01T10:00:00Z"})
    ('a1', 1730455200.0, 'u1')

An event with a userId belongs to that userId. An event with only an anonymousId belongs to the
userId of the latest link at or before its instant, else of the earliest link; with no link, to
the anonymousId itself:

    >>> runs = merge_links([(10.0, "u1"), (20.0, "u2"), (30.0, "u2")])
    >>> runs
    ((10.0, 'u1'), (20.0, 'u2'))
    >>> [linked_user(runs, t) for t in (5.0, 15.0, 25.0, None)]
    ['u1', 'u1', 'u2', 'u2']
    >>> owner_of({"type": "track", "anonymousId": "a1", "timestamp": "1970-01-01T00:00:15Z"}, runs)
    ('u:u1', True)

Batch (LinkIdentities): a branch right after Consent; each bundle's links are buffered per
anonymousId and leave as one compact record per anonymousId and flush (not one per event), are
grouped by anonymousId and merged into runs: (anonymousId, ((instant, userId), ...)), the table
AttachAccountId reads as a side input. Streaming: per-anonymousId state learns links as they
arrive and tags each event with its owner; the state is forgotten after `ttl_days` without
activity (an event-time timer, as Dedupe's).
"""
import bisect
import math

import apache_beam as beam
from apache_beam.coders import FloatCoder, StrUtf8Coder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue
from apache_beam.transforms.window import GlobalWindow

from transforms.stages.accounts import user_key
from transforms.common.jsonio import pack, unpack
from transforms.shuffle.packed_lookup import packed_buckets
from transforms.common.timestamps import event_instant

FLUSH_EVERY = 500_000  # buffered links per bundle before they are sent on (~40 MB at most)


def _present(value) -> bool:
    return value is not None and value != ""


def identity_link(event: dict) -> tuple[str, float, str] | None:
    """(anonymousId, instant, userId) that a consented valid event teaches, else None.

    alias: previousId -> userId; any other type: anonymousId -> userId when it carries both.
    An event without a usable time links from the start (-inf). Ids as strings.
    """
    user_id = event.get("userId")
    if not _present(user_id):
        return None
    anonymous_id = event.get("previousId") if event.get("type") == "alias" else event.get("anonymousId")
    if not _present(anonymous_id) or isinstance(anonymous_id, (dict, list, bool, float)):
        return None
    instant = event_instant(event)
    return str(anonymous_id), (-math.inf if instant is None else instant), str(user_id)


def merge_links(links) -> tuple:
    """(instant, userId) links of one anonymousId -> sorted runs: a link that follows one to the
    same user changes nothing, so only the first of each run is kept (exact for linked_user)."""
    runs = []
    for instant, user in sorted(set((float(i), u) for i, u in links)):
        if not runs or runs[-1][1] != user:
            runs.append((instant, user))
    return tuple(runs)


def linked_user(runs, instant: float | None) -> str | None:
    """The userId of the latest run at or before `instant`, else of the earliest; an unknown
    instant (None) takes the latest. None without runs."""
    if not runs:
        return None
    if instant is None:
        return runs[-1][1]
    position = bisect.bisect_right([start for start, _ in runs], instant)
    return runs[max(position - 1, 0)][1]


def owner_of(event: dict, runs=None) -> tuple[str, bool]:
    """(the key whose history and mapping apply, whether it came through a link).

    `runs`: the links of the event's anonymousId (used only when it has no userId).
    """
    key = user_key(event)
    if key.startswith("u:") or not runs:
        return key, False
    return "u:" + linked_user(runs, event_instant(event)), True


def owner_of_fact(key: str, instant: float, runs) -> tuple[str, bool]:
    """The owner of an identify/group fact taught under `key` at `instant` (rule: an anonymous
    identify's account counts for the user its anonymousId is linked to)."""
    if key.startswith("u:") or not runs:
        return key, False
    return "u:" + linked_user(runs, None if instant == -math.inf else instant), True


def anonymous_id_of(key: str) -> str | None:
    """'a:x' -> 'x'; a userId key -> None."""
    return key[2:] if key.startswith("a:") else None


# --------------------------------------------------------------------------- batch

class LinkBuffer:
    """Buffers the links of consented events per anonymousId; records leave, at drain, as one
    (table bucket, packed {anonymousId: {userId: [instant or null, ...]}}) per bucket of
    anonymousIds (transforms.shuffle.packed_lookup.packed_buckets).

    >>> buffer = LinkBuffer()
    >>> buffer.add({"type": "page", "userId": "u1", "anonymousId": "a1"})
    ()
    >>> [(anonymous_id, points_of(users)) for _, data in buffer.drain()
    ...  for anonymous_id, users in unpack(data).items()]
    [('a1', [(-inf, 'u1')])]
    """

    def __init__(self, flush_every: int = None):
        self._flush_every = flush_every or FLUSH_EVERY
        self._links = {}
        self._buffered = 0

    def add(self, event: dict):
        """Learns the event's link, if any; -> () or, every `flush_every` links, the records."""
        link = identity_link(event)
        if link is None:
            return ()
        anonymous_id, instant, user = link
        users = self._links.get(anonymous_id)
        if users is None:
            users = self._links[anonymous_id] = {}
        instants = users.get(user)
        if instants is None:
            instants = users[user] = []
        instants.append(None if instant == -math.inf else instant)   # JSON has no -inf
        self._buffered += 1
        if self._buffered >= self._flush_every:
            return self.drain()
        return ()

    def drain(self) -> list:
        links, self._links, self._buffered = self._links, {}, 0
        return packed_buckets(links.items())


class BufferLinksFn(beam.DoFn):
    """event -> nothing per event; per bundle (and every FLUSH_EVERY links) one record per
    bucket of anonymousIds (LinkBuffer)."""

    def start_bundle(self):
        self._buffer = LinkBuffer()

    def process(self, sourced):
        # Not a generator: on the hot path (nearly every event) nothing is yielded.
        return self._buffer.add(sourced[1])

    def finish_bundle(self):
        return [WindowedValue(record, Timestamp(0), [GlobalWindow()])
                for record in self._buffer.drain()]


def points_of(users: dict) -> list:
    """{userId: [instant or null, ...]} (one anonymousId's buffered links) -> [(instant, userId)]
    (null -> -inf)."""
    return [(-math.inf if instant is None else instant, user)
            for user, instants in users.items() for instant in instants]


def decode_points(data: bytes):
    """encode_points()'s bytes -> [(instant, userId)] (null -> -inf)."""
    return points_of(unpack(data))


def encode_points(points) -> bytes:
    """[(instant, userId)] -> the packed form decode_points reads."""
    users = {}
    for instant, user in points:
        users.setdefault(user, []).append(None if instant == -math.inf else instant)
    return pack(users)


def runs_to_json(runs) -> list:
    """merge_links()'s runs -> [[instant or null, userId], ...]: a link table's value as it
    crosses to the per-user step (transforms.shuffle.packed_lookup).

    >>> runs_from_json(runs_to_json(((-math.inf, "u1"), (5.0, "u2"))))
    ((-inf, 'u1'), (5.0, 'u2'))
    """
    return [[None if instant == -math.inf else instant, user] for instant, user in runs]


def runs_from_json(data: list) -> tuple:
    """What runs_to_json() made -> the runs."""
    return tuple((-math.inf if instant is None else instant, user) for instant, user in data)


class MergeLinksFn(beam.DoFn):
    """(bucket, [LinkBuffer's packed records of the bucket]) -> (bucket, packed {anonymousId:
    runs_to_json(its runs)}): the link table, one element per bucket (a PackedTable's)."""

    def process(self, bucket_records):
        bucket, records = bucket_records
        points: dict[str, list] = {}
        for data in records:
            for anonymous_id, users in unpack(data).items():
                points.setdefault(anonymous_id, []).extend(points_of(users))
        yield bucket, pack({anonymous_id: runs_to_json(merge_links(links))
                            for anonymous_id, links in points.items()})


class LearnLinksFn(beam.DoFn):
    """Streaming: (anonymousId or own key, (origin, event)) -> (origin, event, owner key).

    Learns the event's link (state: packed runs); an anonymous-only event's owner is the user
    its anonymousId is linked to so far, else its own key. Activity pushes the forget timer.
    """

    RUNS = ReadModifyWriteStateSpec("links", StrUtf8Coder())
    EXPIRES = ReadModifyWriteStateSpec("expires", FloatCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, ttl_days: float):
        self._ttl_seconds = ttl_days * 86400

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam,
                runs_state=beam.DoFn.StateParam(RUNS), expires=beam.DoFn.StateParam(EXPIRES),
                forget=beam.DoFn.TimerParam(FORGET)):
        key, (origin, event) = keyed
        if key.startswith("u:"):   # no anonymousId: nothing to learn or look up
            yield origin, event, key
            return
        stored = runs_state.read()
        runs = decode_runs(stored) if stored else ()
        link = identity_link(event)
        if link is not None:
            runs = merge_links(list(runs) + [link[1:]])
            runs_state.write(encode_runs(runs))
        until = max(float(timestamp) + self._ttl_seconds, expires.read() or 0.0)
        expires.write(until)
        forget.set(Timestamp(until))
        owner, _ = owner_of(event, runs)
        yield origin, event, owner

    @on_timer(FORGET)
    def forget_links(self, runs_state=beam.DoFn.StateParam(RUNS),
                     expires=beam.DoFn.StateParam(EXPIRES)):
        runs_state.clear()
        expires.clear()


def encode_runs(runs) -> str:
    return encode_points(runs).decode("utf-8")


def decode_runs(text: str) -> tuple:
    return tuple(decode_points(text.encode("utf-8")))


def link_state_key(event: dict) -> str:
    """Streaming: whose link state an event reads or teaches: the alias's previousId, else the
    anonymousId, else (no anonymousId) its own userId key, which has no link state."""
    if event.get("type") == "alias" and _present(event.get("previousId")):
        return f"a:{event['previousId']}"
    if _present(event.get("anonymousId")):
        return f"a:{event['anonymousId']}"
    return user_key(event)


class LinkIdentities(beam.PTransform):
    """Batch: consented (origin, event) -> the link table, (table bucket, packed {anonymousId:
    runs}) per bucket (transforms.shuffle.packed_lookup; a branch: the events go on elsewhere).
    Streaming: consented (origin, event) -> (origin, event, owner key),
    in line, learning the links in per-anonymousId state forgotten after `ttl_days` idle.
    `buffered` (batch): the input is already LinkBuffer's records (the batch fusion,
    transforms.stages.prepare, buffers them), so BufferLinks is left out."""

    def __init__(self, streaming: bool = False, ttl_days: float = 30.0, buffered: bool = False):
        super().__init__()
        self._buffered = buffered  # batch: the input is LinkBuffer's records already
        self._streaming = streaming
        self._ttl_days = ttl_days

    def expand(self, consented):
        if self._streaming:
            return (consented
                    | "KeyByAnonymousId" >> beam.Map(lambda sourced: (link_state_key(sourced[1]), sourced))
                    .with_output_types(beam.typehints.KV[str, beam.typehints.Any])
                    | "LearnLinks" >> beam.ParDo(LearnLinksFn(self._ttl_days)))
        if not self._buffered:
            consented = consented | "BufferLinks" >> beam.ParDo(BufferLinksFn())
        return (consented
                | "GroupLinks" >> beam.GroupByKey()
                | "MergeLinks" >> beam.ParDo(MergeLinksFn()))
