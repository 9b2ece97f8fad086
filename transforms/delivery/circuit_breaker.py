"""A delivery-wide circuit breaker: wait out an outage instead of dead-lettering the backlog.

    breaker = CircuitBreaker(max_outage_seconds=3600)
    breaker.before_attempt()   # returns at once while closed; while open, blocks every sender
                               # but one probe, sent at growing intervals (1 s, 2 s, ... 60 s);
                               # raises OutageTooLong once the outage outlasts max_outage_seconds
    breaker.record(OUTAGE)     # a connection error, a timeout or a 5xx
    breaker.record(REACHABLE)  # any other answer (2xx, 4xx, 429): the service is up

It opens when the last FAILURES_TO_OPEN attempts all failed with connection errors, timeouts or
5xx, or when every attempt for OPEN_AFTER_SECONDS failed so (at least MIN_FAILURES_OVER_TIME of
them, so that a slow trickle of requests still notices), and when a request runs out of retries while
nothing at all has answered since it began (trip(): a quiet shard notices an outage before it
dead-letters its first event). One random 5xx among successes never
opens it: that is the request's own retry, as before. The first answer that is not an outage
closes it; delivery then goes on at the rate limiter's pace (no burst). One breaker per sink
DoFn instance, i.e. per worker thread delivering a shard, so it holds on Dataflow's workers too.
Each outage, once over, is noted (wall-clock start and end) for the run's report
(transforms.common.report_tally).
"""
import threading
import time
import weakref

from transforms.common import report_tally

OUTAGE = "outage"
REACHABLE = "reachable"

FAILURES_TO_OPEN = 20
OPEN_AFTER_SECONDS = 10.0
MIN_FAILURES_OVER_TIME = 3
FIRST_PROBE_SECONDS = 1.0
MAX_PROBE_SECONDS = 60.0

_LIVE = weakref.WeakSet()   # every breaker of this process, for the progress line


class OutageTooLong(Exception):
    """The destination stayed unreachable for longer than max_outage_seconds."""


class Stopped(Exception):
    """A stop was requested (transforms.common.stopping) while this attempt waited for the breaker."""


class CircuitBreaker:
    def __init__(self, max_outage_seconds: float | None = None, clock=time.monotonic,
                 wall_clock=time.time, failures_to_open: int = FAILURES_TO_OPEN,
                 open_after_seconds: float = OPEN_AFTER_SECONDS,
                 first_probe_seconds: float = FIRST_PROBE_SECONDS,
                 max_probe_seconds: float = MAX_PROBE_SECONDS, on_open=None, on_probe_failed=None):
        self._max_outage = max_outage_seconds
        self._clock = clock
        self._wall = wall_clock
        self._failures_to_open = failures_to_open
        self._open_after = open_after_seconds
        self._first_probe = first_probe_seconds
        self._max_probe = max_probe_seconds
        self._on_open = on_open or (lambda breaker: None)
        self._on_probe_failed = on_probe_failed or (lambda breaker: None)
        self._condition = threading.Condition()
        self._streak = 0
        self._streak_started = None
        self._opened_at = None          # monotonic time it opened; None while closed
        self._opened_wall = None
        self._next_probe_at = 0.0
        self._probe_interval = first_probe_seconds
        self._probe_out = False
        self._gave_up = False
        self._last_reachable_at = -float("inf")
        self.outages = 0                # times it opened
        self.outage_seconds = 0.0       # time it stayed open, over closed outages
        _LIVE.add(self)

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    @property
    def gave_up(self) -> bool:
        return self._gave_up

    def status(self) -> tuple[float, float] | None:
        """(wall time it opened, seconds to the next probe) while open, else None."""
        with self._condition:
            if self._opened_at is None or self._gave_up:
                return None
            return self._opened_wall, max(0.0, self._next_probe_at - self._clock())

    def open_seconds(self) -> float:
        """Seconds spent open so far, the current outage included."""
        with self._condition:
            current = 0.0 if self._opened_at is None else self._clock() - self._opened_at
            return self.outage_seconds + current

    def before_attempt(self, should_stop=None) -> None:
        """Returns when this attempt may go on the wire; raises OutageTooLong, or Stopped once
        `should_stop()` is true (checked at least once a second while waiting)."""
        with self._condition:
            while True:
                if self._gave_up:
                    raise OutageTooLong()
                if self._opened_at is None:
                    return
                if should_stop is not None and should_stop():
                    raise Stopped()
                now = self._clock()
                if self._max_outage is not None and now - self._opened_at > self._max_outage:
                    self._give_up(now)
                    raise OutageTooLong()
                if not self._probe_out and now >= self._next_probe_at:
                    self._probe_out = True
                    return
                wake = self._next_probe_at if not self._probe_out else now + self._max_probe
                if self._max_outage is not None:
                    wake = min(wake, self._opened_at + self._max_outage + 0.001)
                self._condition.wait(min(1.0, max(0.001, wake - now)))

    def _give_up(self, now: float) -> None:
        """Past max_outage_seconds: every waiting and later attempt raises OutageTooLong."""
        self._gave_up = True
        self.outage_seconds += now - self._opened_at
        report_tally.add_outage(self._opened_wall, self._wall())
        self._opened_at = self._opened_wall = None
        self._condition.notify_all()

    def abandon(self) -> None:
        """An attempt that passed before_attempt() and never reached the wire: if it was the
        probe, the next waiting attempt may probe instead."""
        with self._condition:
            if self._probe_out:
                self._probe_out = False
                self._condition.notify_all()

    def record(self, kind: str) -> None:
        """The result of one attempt: OUTAGE or REACHABLE."""
        with self._condition:
            now = self._clock()
            if kind == REACHABLE:
                self._streak, self._streak_started = 0, None
                self._last_reachable_at = now
                if self._opened_at is not None:
                    self.outage_seconds += now - self._opened_at
                    report_tally.add_outage(self._opened_wall, self._wall())
                    self._opened_at = self._opened_wall = None
                    self._probe_out = False
                    self._condition.notify_all()
                return
            if self._opened_at is not None:
                if self._probe_out:   # the probe failed: wait longer before the next
                    self._probe_out = False
                    self._probe_interval = min(self._probe_interval * 2, self._max_probe)
                    self._next_probe_at = now + self._probe_interval
                    self._condition.notify_all()
                    self._on_probe_failed(self)
                return
            self._streak += 1
            if self._streak_started is None:
                self._streak_started = now
            long_enough = (self._streak >= MIN_FAILURES_OVER_TIME
                           and now - self._streak_started >= self._open_after)
            if self._streak >= self._failures_to_open or long_enough:
                self._open(now)

    def silent_since(self, instant: float) -> bool:
        """True when no attempt has had an answer (other than a 5xx) since `instant`."""
        with self._condition:
            return self._last_reachable_at < instant

    def trip(self) -> None:
        """Opens now (a request ran out of retries while the destination said nothing)."""
        with self._condition:
            if self._opened_at is None:
                self._open(self._clock())

    def _open(self, now: float) -> None:
        self._opened_at, self._opened_wall = now, self._wall()
        self._probe_interval = self._first_probe
        self._next_probe_at = now + self._probe_interval
        self.outages += 1
        self._on_open(self)


class _NeverOpen:
    """A breaker that never opens: a sender tested on its own retry policy."""
    is_open = gave_up = False
    outages = 0

    def before_attempt(self, should_stop=None):
        pass

    def abandon(self):
        pass

    def record(self, kind):
        pass

    def silent_since(self, instant):
        return False

    def trip(self):
        pass


NEVER_OPEN = _NeverOpen()


def current_outage() -> tuple[float, float] | None:
    """(wall time the earliest open breaker of this process opened, seconds to its next probe),
    or None when every breaker is closed: what the progress line shows."""
    statuses = [status for status in (breaker.status() for breaker in list(_LIVE)) if status]
    return min(statuses) if statuses else None
