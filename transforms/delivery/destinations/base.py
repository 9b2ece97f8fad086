"""What every destination is: the small interface the shared sink delivers through.

A destination is one module (transforms/delivery/destinations/<name>.py) that fills in a Destination:

    Destination(name="gainsight-px", call_types=("track", "identify", "group", "page"),
                consent_names=("Gainsight PX Cloud (Actions)", ...), credential=Credential(...),
                path="/rte/segmentio/v1/push", base_urls={"us": "https://...", ...},
                key_check=KeyCheck(body=b"[]", valid_statuses=(400,)), ...)

Everything else (read, parse, consent, routing, whitelist, dedupe, enrichment, batching,
retries, rate, circuit breaker, dead letter, summary) is shared and names no destination.

A request may carry several events: `max_events_per_request` bodies go into one request through
`encode`, and `classify` turns the answer into one verdict per event of the request, so a
destination whose answer says which records failed settles each of them on its own. A verdict
is a string, or (verdict, reason) when the answer gives that event its own reason (its record's
error), which its dead-letter record then carries.

`encode` returns the body's bytes (POST to the destination's URL) or a Call (method, path under
the base URL, bytes). A destination whose events take several calls (a query, then an insert
or an update) gives `deliver(bodies, sender, context) -> Delivery`: it makes its calls
through the shared sender (sender.exchange: the same retries, rate, circuit breaker and key
handling) and settles each event. Its BatchContext holds the records its `shared_records`
found, merged over the whole backfill ({} in a stream), and a dict it may keep across this
worker's batches; it calls `context.delivered([index, ...])` as soon as those events'
last calls have answered, so that the sink records them in the checkpoint at once (a crash
later in the batch does not send them again). Without one, the bodies go in one request
(sender.send_request). `batch_by_user` keeps each user's events in one batch of a backfill
(a user's stitched anonymous visits included), so that a destination that merges a user's
calls merges all of them at once.
`with_settings(settings)` gives the destination as configured by its own flags (call types,
field maps), `notes` what the start-up line should say about them.
"""
from dataclasses import dataclass, field
from typing import Callable

# What an answer means for one event of the request.
DELIVERED = "delivered"        # settled: accepted
RETRY = "retry"                # not settled: send again (429, 5xx)
REJECTED = "rejected"          # settled: permanent failure, to the dead letter
KEY_REJECTED = "key_rejected"  # the credential was refused (counts towards stopping delivery)


@dataclass(frozen=True)
class Credential:
    """Where a destination's key comes from, how it must look, and how it travels."""
    flag: str                               # "--access_key"
    env: str                                # "GAINSIGHT_ACCESS_KEY"
    secret_flag: str                        # "--access_key_secret" (a Secret Manager version)
    problem: Callable[[str], str | None]    # key -> why it is malformed (never quoting it), or None
    headers: Callable[[str], dict]          # key -> the request headers that carry it
    where_to_find: str = ""                 # for README and error messages


@dataclass(frozen=True)
class KeyCheck:
    """A request that tells a valid key from a rejected one before any data is read."""
    body: bytes
    valid_statuses: tuple = (400,)
    rejected_statuses: tuple = (401, 403)
    path: str | None = None     # under the base URL; None: the destination's own path


@dataclass(frozen=True)
class Call:
    """One HTTP call: 'PUT', '/v1.0/api/people', b'{"Email": ...}' (the path is under the base URL)."""
    method: str
    path: str
    data: bytes


def _hear_nothing(indices) -> None:
    del indices


@dataclass
class BatchContext:
    """What the sink hands a destination's deliver() with each batch, besides its bodies and
    the sender."""
    delivered: Callable = _hear_nothing   # ([index, ...]): those events' last calls answered
    shared: dict = field(default_factory=dict)    # {key: record} merged over the backfill
                                                  # (shared_records); {} in a stream
    written: dict = field(default_factory=dict)   # the destination's memory across this
                                                  # worker's batches (the same dict each time)


@dataclass(frozen=True)
class Delivery:
    """What deliver() made of a batch: one Outcome (transforms.delivery.http_delivery) per
    event, in order; one per HTTP call made (its attempts and ambiguous retries, for the
    `requests` and `retries` counters); and counts of the destination's own (counter -> n)."""
    outcomes: list
    calls: list
    counts: dict = field(default_factory=dict)


def verdict_of(verdict) -> tuple:
    """(verdict, reason or None) of what classify returned for one event.

    >>> verdict_of("retry"), verdict_of(("rejected", "GSOBJ_1003: Employees must be a number"))
    (('retry', None), ('rejected', 'GSOBJ_1003: Employees must be a number'))
    """
    return verdict if isinstance(verdict, tuple) else (verdict, None)


def encode_single(bodies: list[str]) -> bytes:
    """One event per request: the body is the Segment message itself."""
    (body,) = bodies
    return body.encode("utf-8")


def classify_by_status(status: int, text: str, events: int) -> list[str]:
    """The whole request's fate from its HTTP status, for every event it carried.

    >>> classify_by_status(200, "", 1), classify_by_status(503, "", 1), classify_by_status(401, "", 1)
    (['delivered'], ['retry'], ['key_rejected'])
    """
    if 200 <= status < 300:
        verdict = DELIVERED
    elif status in (401, 403):
        verdict = KEY_REJECTED
    elif status == 429 or 500 <= status <= 599:
        verdict = RETRY
    else:
        verdict = REJECTED
    return [verdict] * events


@dataclass(frozen=True)
class Destination:
    name: str                      # the --destination value
    title: str                     # for people: "Gainsight PX"
    call_types: tuple              # Segment call types it takes; others are `unsupported`
    consent_names: tuple           # `integrations` names that switch it on or off
    credential: Credential
    path: str                      # appended to the base URL
    base_urls: dict                # region -> base URL; the first is the default
    key_check: KeyCheck | None = None
    max_events_per_request: int = 1
    encode: Callable[[list[str]], bytes] = encode_single
    classify: Callable[[int, str, int], list] = classify_by_status
    deliver: Callable | None = None   # (bodies, sender, BatchContext) -> Delivery;
                                      # None: one request
    shared_records: Callable | None = None   # body -> [(key, order, record)] that several
                                             # batches write (transforms.delivery.shared_records)
    retry_after: Callable[[int, str], float | None] | None = None  # (status, text) -> seconds,
                                                                   # when no Retry-After header
    preview: Callable | None = None   # event -> [(method, path, body)] the calls it goes into;
                                      # None: one POST of the event to the URL
    batch_by_user: bool = False    # a backfill's events of one user (its anonymous visits
                                   # stitched to it included) go into one batch
    with_settings: Callable | None = None   # (self, settings) -> Destination as configured
    notes: tuple = ()                       # lines for the start-up output
    regions: tuple = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "regions", tuple(self.base_urls))

    def configured(self, settings) -> "Destination":
        """This destination as its own flags (`settings`) make it; itself when it has none."""
        if self.with_settings is None or settings is None:
            return self
        return self.with_settings(self, settings)

    def url(self, base: str) -> str:
        """'https://segment-esp.aptrinsic.com/' -> 'https://segment-esp.aptrinsic.com/rte/segmentio/v1/push'."""
        return base.rstrip("/") + self.path
