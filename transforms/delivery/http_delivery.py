"""Deliver request bodies to a destination with retries, backoff, a shared rate limit and a
circuit breaker. Names no destination: what a request looks like and what an answer means come
from the transforms.delivery.destinations module in use.

Plain Python (no Beam) so that it is tested directly against the sandbox over real HTTP:

    sender = RequestSender(make_session(headers, 16), destination.url(base), policy, RateLimiter(50),
                           destination)
    sender.send('{"type":"track",...}')          # -> Outcome(delivered=True, status=200, ...)
    sender.send_request([body1, body2])           # -> [Outcome, Outcome], one per event
    sender.exchange(lambda pending: Call("POST", "/v1/...", data), 2, classify)
                                                  # -> ([Outcome, Outcome], last answer's text)

Given `answers` (transforms.delivery.answers.AnswerLog), every attempt on the wire records its
answer's kind and its time there, in the one place the answer arrives (_post_now).

Retry policy (Segment's own destination retried 429, 5xx and connection errors):
- 2xx: delivered.
- 429, 5xx, connection errors and timeouts: retried up to `max_retries` times, waiting
  `Retry-After` when the response has one (429 also holds back the whole shard), else an
  exponential backoff with full jitter.
- any other status (400, 401, 403, 404, 413, 422, ...): permanent, to the dead letter at once.
- a request is also given up when its retries would outlast `max_retry_seconds`.
- 401/403 mean the key is wrong: after AUTH_FAILURES_BEFORE_STOP of them in a row the sender
  stops sending and every later body is returned undelivered at once (`key_rejected`).
- with a DayBudget (--max_requests_per_day), once the day's requests are spent no request goes
  out: every later body is returned undelivered at once (`budget_spent`), or, in a stream, waits
  for the next UTC day.
- a circuit breaker (transforms.delivery.circuit_breaker) sees every attempt: while the destination is
  down, attempts wait for it instead of spending their retries, and one probe goes out at
  growing intervals; past --max_outage_minutes every waiting body is returned undelivered with
  `outage_stopped`.
"""
import email.utils
import base64
import random
import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from transforms.delivery.answers import answer_kind
from transforms.delivery.circuit_breaker import NEVER_OPEN, OUTAGE, REACHABLE, CircuitBreaker, OutageTooLong, Stopped
from transforms.delivery.destinations.base import DELIVERED, KEY_REJECTED, REJECTED, Call, Destination, verdict_of

AUTH_STATUSES = (401, 403)
AUTH_FAILURES_BEFORE_STOP = 5
MAX_REASON_CHARS = 300


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


def next_utc_day(now: float) -> int:
    """Unix time of the UTC midnight after `now`: when a daily quota's fixed window renews.

    >>> next_utc_day(86_400 * 3 + 10.5)
    345600
    """
    return (int(now) // 86_400 + 1) * 86_400


class DayBudget:
    """At most `limit` requests per UTC day (a fixed window, as Gainsight's daily quota):
    take() is True while the day's budget lasts. Once it is spent, False at once; or, with
    `wait` (a stream), it waits for the next day (False sooner, once `should_stop()`).

    >>> now = [86_400 * 3 + 10.0]
    >>> budget = DayBudget(2, clock=lambda: now[0])
    >>> [budget.take() for _ in range(3)], budget.renews_at()
    ([True, True, False], 345600)
    >>> now[0] += 86_400; budget.take()
    True
    """

    def __init__(self, limit: int, wait: bool = False, clock=time.time, sleep=time.sleep):
        if limit <= 0:
            raise ValueError("limit must be positive")
        self._limit, self._wait, self._clock, self._sleep = limit, wait, clock, sleep
        self._day, self._used = None, 0
        self._lock = threading.Lock()

    def renews_at(self) -> int:
        """Unix time of the next UTC midnight."""
        return next_utc_day(self._clock())

    def take(self, should_stop=None) -> bool:
        while True:
            with self._lock:
                day = int(self._clock() // 86_400)
                if day != self._day:
                    self._day, self._used = day, 0
                if self._used < self._limit:
                    self._used += 1
                    return True
            if not self._wait or (should_stop is not None and should_stop()):
                return False
            self._sleep(min(60.0, max(0.0, self.renews_at() - self._clock())))


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
    reason: str = ""        # why it was not delivered (never contains the key)
    ambiguous_retries: int = 0  # retries after a timeout, when the first send may have landed
    key_rejected: bool = False  # not sent because the endpoint kept rejecting the key
    outage_stopped: bool = False  # not delivered: the destination was down past --max_outage_minutes
    stopped: bool = False   # not delivered: a stop was requested while it waited (a resume sends it)
    budget_spent: bool = False  # not sent: the day's request budget (--max_requests_per_day) was spent


def make_session(headers: dict, max_connections: int, ca_bundle: str | None = None):
    """A pooled requests.Session that sends `headers` (the destination's credential) on every
    request."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, max_connections), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({**headers, "Content-Type": "application/json"})
    session.verify = ca_bundle or True
    return session


def secret_forms(key: str, headers: dict) -> tuple:
    """Every form the key may be quoted back in: itself, and each header value carrying it, whole
    and without its scheme ("Basic QVAt..." and "QVAt...").

    >>> secret_forms("AP-1", {"Authorization": "Basic QVAtMTo="})
    ('AP-1', 'Basic QVAtMTo=', 'QVAtMTo=')
    """
    forms = [key]
    for value in headers.values():
        if key and key in _decoded(value):
            forms += [value, value.split(" ", 1)[-1]]
    return tuple(dict.fromkeys(form for form in forms if form))


def _decoded(value: str) -> str:
    token = value.split(" ", 1)[-1]
    try:
        return value + base64.b64decode(token, validate=True).decode("utf-8", "replace")
    except ValueError:
        return value


class RequestSender:
    """Sends requests of one or more bodies (thread-safe: share one sender across a pool)."""

    def __init__(self, session, url: str, policy: RetryPolicy, limiter: RateLimiter,
                 destination: Destination, secrets: tuple = (), sleep=time.sleep,
                 clock=time.monotonic, rng: random.Random | None = None, max_in_flight: int = 1024,
                 breaker: CircuitBreaker | None = None, should_stop=None, answers=None,
                 budget: DayBudget | None = None):
        self._session = session
        self._budget = budget
        # Bounds requests on the wire; threads waiting out a backoff do not hold a place.
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._url = url
        self._policy = policy
        self._limiter = limiter
        self._destination = destination
        self._secrets = tuple(secrets)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._breaker = breaker or NEVER_OPEN
        # A stop request (transforms.common.stopping): waits for the breaker or a retry give way to it.
        self._should_stop = should_stop
        self._answers = answers   # transforms.delivery.answers.AnswerLog: each answer's kind and latency
        self._auth_failures_in_a_row = 0
        self._lock = threading.Lock()

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def key_rejected(self) -> bool:
        """True once the endpoint has rejected the key AUTH_FAILURES_BEFORE_STOP times in a row."""
        return self._auth_failures_in_a_row >= AUTH_FAILURES_BEFORE_STOP

    def send(self, body: str) -> Outcome:
        """One body in one request."""
        return self.send_request([body])[0]

    def send_request(self, bodies: list[str]) -> list[Outcome]:
        """Bodies of one request -> one Outcome each, in order. Events the answer settles leave
        the request; those it says to retry go again, together, until their budget is spent."""
        encode = self._destination.encode
        return self.exchange(lambda pending: encode([bodies[i] for i in pending]), len(bodies),
                             self._destination.classify)[0]

    def exchange(self, request_for, events: int, classify) -> tuple[list[Outcome], str]:
        """One request standing for `events` events: request_for(pending indices) -> its bytes or
        Call, classify(status, text, len(pending)) -> a verdict per pending event. Returns
        (one Outcome per event, the text of the last answer: "" when none came)."""
        outcomes: list[Outcome | None] = [None] * events
        pending = list(range(events))
        attempts = ambiguous = retries = 0
        text = ""
        started = first_started = self._clock()
        while True:
            status = retry_after = None
            timed_out = False
            try:
                response = self._post(request_for(pending))
                attempts += 1
            except _KeyRejected:
                return self._finish(outcomes, pending, Outcome(
                    False, None, attempts, key_rejected_reason(self._destination), ambiguous,
                    key_rejected=True)), text
            except OutageTooLong:
                return self._finish(outcomes, pending, Outcome(
                    False, None, attempts, OUTAGE_REASON, ambiguous, outage_stopped=True)), text
            except Stopped:
                return self._finish(outcomes, pending, self._stopped(attempts, ambiguous)), text
            except _BudgetSpent:
                return self._finish(outcomes, pending, Outcome(
                    False, None, attempts, BUDGET_REASON, ambiguous, budget_spent=True)), text
            except requests.exceptions.ReadTimeout:
                attempts += 1
                reason = f"timed out after {self._policy.timeout_seconds}s waiting for a response"
                timed_out = True
                self._breaker.record(OUTAGE)
            except requests.exceptions.RequestException as err:
                attempts += 1
                reason = f"connection error: {type(err).__name__}"
                self._breaker.record(OUTAGE)
            else:
                status, text = response.status_code, response.text
                self._breaker.record(OUTAGE if 500 <= status <= 599 else REACHABLE)
                verdicts = classify(status, text, len(pending))
                reason = self._describe(response)
                still = []
                for index, answer in zip(pending, verdicts):
                    verdict, own_reason = verdict_of(answer)
                    if verdict == DELIVERED:
                        outcomes[index] = Outcome(True, status, attempts, ambiguous_retries=ambiguous)
                    elif verdict in (REJECTED, KEY_REJECTED):
                        outcomes[index] = Outcome(False, status, attempts, redact(
                            own_reason, self._secrets) if own_reason else reason, ambiguous)
                    else:
                        still.append(index)
                pending = still
                if not pending:
                    return outcomes, text
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None and self._destination.retry_after is not None:
                    retry_after = self._destination.retry_after(status, text)
            if self._breaker.is_open:
                # The destination is down: this is not the request's fault, so it waits for the
                # breaker (before_attempt) instead of spending its retries.
                ambiguous += timed_out
                retries, started = 0, self._clock()
                continue
            retries += 1
            if retries > self._policy.max_retries and self._breaker.silent_since(first_started):
                # Out of retries, and nothing answered anywhere since this request began: the
                # destination is down, not this request's problem. Wait for it.
                self._breaker.trip()
                retries, started = 0, self._clock()
                continue
            if retries > self._policy.max_retries:
                return self._finish(outcomes, pending, Outcome(
                    False, status, attempts, f"gave up after {attempts} attempts: {reason}",
                    ambiguous)), text
            delay = self._delay(retries, retry_after)
            if self._clock() - started + delay > self._policy.max_retry_seconds:
                return self._finish(outcomes, pending, Outcome(
                    False, status, attempts, f"gave up after {attempts} attempts: retrying would "
                    f"take longer than {self._policy.max_retry_seconds:g}s: {reason}", ambiguous)), text
            if status == 429:
                self._limiter.hold_off(delay)
            ambiguous += timed_out
            if not self._wait(delay):
                return self._finish(outcomes, pending, self._stopped(attempts, ambiguous)), text

    def _wait(self, seconds: float) -> bool:
        """Sleeps `seconds` (a backoff); False, sooner, once a stop is requested."""
        if self._should_stop is None:
            self._sleep(seconds)
            return True
        deadline = self._clock() + seconds
        while not self._should_stop():
            left = deadline - self._clock()
            if left <= 0:
                return True
            self._sleep(min(left, 1.0))
        return False

    @staticmethod
    def _stopped(attempts, ambiguous) -> Outcome:
        return Outcome(False, None, attempts, "not sent: the run was stopped", ambiguous, stopped=True)

    @staticmethod
    def _finish(outcomes, pending, outcome) -> list[Outcome]:
        for index in pending:
            outcomes[index] = outcome
        return outcomes

    def _post(self, data):
        """One paced attempt on the wire; raises _KeyRejected, without sending, once the key is
        known to be bad (checked while holding a place on the wire, so no request races it),
        and OutageTooLong once the breaker gave up."""
        self._breaker.before_attempt(self._should_stop)
        try:
            return self._post_now(data)
        except requests.exceptions.RequestException:
            raise                      # an attempt on the wire: send_request records it
        except BaseException:
            self._breaker.abandon()    # never reached the wire: not an answer either way
            raise

    def _post_now(self, data):
        """`data`: the bytes to POST to the URL, or a Call (its method, at its path under the URL)."""
        method, url = "POST", self._url
        if isinstance(data, Call):
            method, url, data = data.method, self._url.rstrip("/") + data.path, data.data
        with self._in_flight:
            if self.key_rejected:
                raise _KeyRejected()
            if self._budget is not None and not self._budget.take(self._should_stop):
                raise _BudgetSpent()
            self._limiter.acquire()
            started = self._clock()
            try:
                response = self._session.request(method, url, data=data,
                                                 timeout=self._policy.timeout_seconds)
            except requests.exceptions.RequestException as err:
                self._record_answer(answer_kind(None, err), started)
                raise
            self._record_answer(answer_kind(response.status_code), started)
            with self._lock:
                if response.status_code in AUTH_STATUSES:
                    self._auth_failures_in_a_row += 1
                elif response.status_code < 300:
                    self._auth_failures_in_a_row = 0
            return response

    def _record_answer(self, kind: str, started: float) -> None:
        if self._answers is not None:
            self._answers.record(kind, self._clock() - started)

    def _delay(self, retries, retry_after) -> float:
        if retry_after is None:
            return self._policy.backoff(retries, self._rng)
        return min(retry_after, self._policy.max_retry_after_seconds)

    def _describe(self, response) -> str:
        # redacted whole, then cut: a cut across the key would leave part of it
        text = redact(" ".join(response.text.split()), self._secrets)[:MAX_REASON_CHARS]
        reason = f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"
        if response.status_code in AUTH_STATUSES:
            reason += (f" (the endpoint rejected the key: check "
                       f"{self._destination.credential.flag})")
        return reason


class _KeyRejected(Exception):
    """Raised by RequestSender._post instead of sending once the key has been rejected."""


class _BudgetSpent(Exception):
    """Raised by RequestSender._post instead of sending once the day's budget is spent."""


BUDGET_REASON = ("not sent: the day's request budget (--max_requests_per_day) was spent, so "
                 "delivery stopped")


def key_rejected_reason(destination: Destination) -> str:
    return (f"not sent: the endpoint rejected the key {AUTH_FAILURES_BEFORE_STOP} times in a row "
            f"(HTTP 401/403), so delivery stopped; check {destination.credential.flag}")


OUTAGE_REASON = ("not delivered: the destination was unreachable (connection errors, timeouts or "
                 "5xx on every attempt) for longer than --max_outage_minutes, so delivery stopped")


def redact(text: str, secrets) -> str:
    """text with every occurrence of each secret (a str or a tuple of forms) replaced by ***."""
    for secret in ((secrets,) if isinstance(secrets, str) else secrets):
        if secret:
            text = text.replace(secret, "***")
    return text
