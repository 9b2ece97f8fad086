"""What every destination is: the small interface the shared sink delivers through.

A destination is one module (transforms/delivery/destinations/<name>.py) that fills in a Destination:

    Destination(name="gainsight-px", call_types=("track", "identify", "group", "page"),
                consent_names=("Gainsight PX Cloud (Actions)", ...), credential=Credential(...),
                path="/rte/segmentio/v1/push", base_urls={"us": "https://...", ...},
                key_check=KeyCheck(body=b"[]", valid_statuses=(400,)), ...)

Everything else (read, parse, consent, routing, whitelist, dedupe, enrichment, batching,
retries, rate, circuit breaker, dead letter, summary) is shared and names no destination.

A request may carry several events: `max_events_per_request` bodies go into one request through
`encode`, and `classify` turns the answer into one Verdict per event of the request, so a
destination whose answer says which records failed settles each of them on its own.
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
    classify: Callable[[int, str, int], list[str]] = classify_by_status
    regions: tuple = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "regions", tuple(self.base_urls))

    def url(self, base: str) -> str:
        """'https://segment-esp.aptrinsic.com/' -> 'https://segment-esp.aptrinsic.com/rte/segmentio/v1/push'."""
        return base.rstrip("/") + self.path
