"""Deliver one request body to Gainsight with retries, backoff and a shared rate limit.

Plain Python (no Beam) so that it is tested directly against the sandbox over real HTTP:

    sender = GainsightSender(make_session(key, 16), event_url(endpoint), policy, RateLimiter(50))
    outcome = sender.send('{"type":"track",...}')  # -> Outcome(delivered=True, status=200, ...)

Retry policy (Segment's own destination retried 429, 5xx and connection errors):
- 2xx: delivered.
- 429, 5xx, connection errors and timeouts: retried up to `max_retries` times, waiting
  `Retry-After` when the response has one (429 also holds back the whole shard), else an
  exponential backoff with full jitter.
- any other status (400, 401, 403, 404, 413, 422, ...): permanent, to the dead letter at once.
- a request is also given up when its retries would outlast `max_retry_seconds`.
- 401/403 mean the key is wrong: after AUTH_FAILURES_BEFORE_STOP of them in a row the sender
  stops sending and every later body is returned undelivered at once (`key_rejected`).
"""
import email.utils
import random
import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

EVENT_PATH = "/clickstream/segmentio/event"
AUTH_STATUSES = (401, 403)
AUTH_FAILURES_BEFORE_STOP = 5
MAX_REASON_CHARS = 300


def event_url(endpoint: str) -> str:
    """'https://event.gainsight.com/' -> 'https://event.gainsight.com/clickstream/segmentio/event'."""
    return endpoint.rstrip("/") + EVENT_PATH


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    timeout_seconds: float = 10.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 300.0
    max_retry_seconds: float = 300.0   # total time one request may spend retrying

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)


def is_retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None if absent/bad.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=1445412480.0)
    5.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RateLimiter:
    """Paces calls to at most `rate` per second (no burst): each acquire() takes the next slot.

    hold_off(s) pushes every later slot at least s seconds out (a 429 slows the whole shard).
    """

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def acquire(self):
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def hold_off(self, seconds: float):
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None      # last HTTP status, None when no response arrived
    attempts: int
    reason: str = ""        # why it was not delivered (never contains the access key)
    ambiguous_retries: int = 0  # retries after a timeout, when the first send may have landed
    key_rejected: bool = False  # not sent because the endpoint kept rejecting the access key


def make_session(access_key: str, max_connections: int, ca_bundle: str | None = None):
    """A pooled requests.Session that sends the accessKey header on every request."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, max_connections), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"accessKey": access_key, "Content-Type": "application/json"})
    session.verify = ca_bundle or True
    return session


class GainsightSender:
    """Sends one body at a time (thread-safe: share one sender across a pool's threads)."""

    def __init__(self, session, url: str, policy: RetryPolicy, limiter: RateLimiter,
                 secret: str = "", sleep=time.sleep, clock=time.monotonic,
                 rng: random.Random | None = None, max_in_flight: int = 1024):
        self._session = session
        # Bounds requests on the wire; threads waiting out a backoff do not hold a place.
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._url = url
        self._policy = policy
        self._limiter = limiter
        self._secret = secret
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._auth_failures_in_a_row = 0
        self._lock = threading.Lock()

    @property
    def key_rejected(self) -> bool:
        """True once the endpoint has rejected the key AUTH_FAILURES_BEFORE_STOP times in a row."""
        return self._auth_failures_in_a_row >= AUTH_FAILURES_BEFORE_STOP

    def send(self, body: str) -> Outcome:
        data = body.encode("utf-8")
        attempts = ambiguous = 0
        started = self._clock()
        while True:
            status = retry_after = None
            try:
                response = self._post(data)
                attempts += 1
            except _KeyRejected:
                return Outcome(False, None, attempts, KEY_REJECTED_REASON, ambiguous,
                               key_rejected=True)
            except requests.exceptions.ReadTimeout:
                attempts += 1
                reason = f"timed out after {self._policy.timeout_seconds}s waiting for a response"
                timed_out = True
            except requests.exceptions.RequestException as err:
                attempts += 1
                reason = f"connection error: {type(err).__name__}"
                timed_out = False
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Outcome(True, status, attempts, ambiguous_retries=ambiguous)
                reason = self._describe(response)
                if not is_retryable(status):
                    return Outcome(False, status, attempts, reason, ambiguous)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                timed_out = False
            if attempts > self._policy.max_retries:
                return Outcome(False, status, attempts,
                               f"gave up after {attempts} attempts: {reason}", ambiguous)
            delay = self._delay(attempts, retry_after)
            if self._clock() - started + delay > self._policy.max_retry_seconds:
                return Outcome(False, status, attempts,
                               f"gave up after {attempts} attempts: retrying would take longer "
                               f"than {self._policy.max_retry_seconds:g}s: {reason}", ambiguous)
            if status == 429:
                self._limiter.hold_off(delay)
            ambiguous += timed_out
            self._sleep(delay)

    def _post(self, data: bytes):
        """One paced attempt on the wire; raises _KeyRejected, without sending, once the key is
        known to be bad (checked while holding a place on the wire, so no request races it)."""
        with self._in_flight:
            if self.key_rejected:
                raise _KeyRejected()
            self._limiter.acquire()
            response = self._session.post(self._url, data=data,
                                          timeout=self._policy.timeout_seconds)
            with self._lock:
                if response.status_code in AUTH_STATUSES:
                    self._auth_failures_in_a_row += 1
                elif response.status_code < 300:
                    self._auth_failures_in_a_row = 0
            return response

    def _delay(self, attempts, retry_after) -> float:
        if retry_after is None:
            return self._policy.backoff(attempts, self._rng)
        return min(retry_after, self._policy.max_retry_after_seconds)

    def _describe(self, response) -> str:
        text = " ".join(response.text.split())[:MAX_REASON_CHARS]
        reason = f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"
        if response.status_code in AUTH_STATUSES:
            reason += " (the endpoint rejected the access key: check --access_key)"
        return redact(reason, self._secret)


class _KeyRejected(Exception):
    """Raised by GainsightSender._post instead of sending once the key has been rejected."""


KEY_REJECTED_REASON = (f"not sent: the endpoint rejected the access key {AUTH_FAILURES_BEFORE_STOP} "
                       "times in a row (HTTP 401/403), so delivery stopped; check --access_key")


def redact(text: str, secret: str) -> str:
    """text with every occurrence of secret replaced by ***."""
    return text.replace(secret, "***") if secret else text
