"""A progress line every few seconds while a local run works, from counters.LOCAL_TALLY:

    progress 00:00:20  read 412000  settled 180233  delivered 0  previewed 0  dead-lettered 2113  20600 read/s  memory 1.4 GiB

`settled` counts events that have reached their outcome (any of counters.OUTCOMES), so the
line moves while the job is between reading and sending too. On a file backfill it also shows
the share of the input's bytes read and an estimated time to finish, at the delivery rate
measured so far once there is one, else at the rate cap (see estimate_seconds_left):

    progress 00:02:10  read 412000 (41% of 1.2 GiB)  settled 180233  ...  20600 read/s  eta 02:17:20  memory 1.4 GiB

While the sink's circuit breaker is open (transforms.delivery.circuit_breaker) the line says so:

    progress 00:05:00  read ...  memory 1.4 GiB  Gainsight unreachable since 14:02:11, next probe in 8s

`memory` is this process's resident memory now (with its worker processes, when a backfill
runs on several: their counts come through the run's directory, transforms.common.worker_files), so a
user watching a long backfill sees it coming before the machine runs out (docs/performance.md).
"""
import sys
import threading
import time

from pipeline.processes.memory import resident_memory_bytes, tree_resident_memory_bytes
from transforms.common import counters, worker_files
from transforms.delivery.circuit_breaker import current_outage

PROGRESS_INTERVAL_SECONDS = 10.0


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def read_fraction(counts: dict, total_bytes: int | None) -> float | None:
    """Share of the input files' bytes read (0..1), or None when the total is unknown."""
    if not total_bytes:
        return None
    return min(counts.get(counters.BYTES_READ, 0) / total_bytes, 1.0)


def settled_at_sink(counts: dict) -> int:
    """Events the sink has settled or held back: delivered, dead_lettered, unsent."""
    return (counts.get(counters.DELIVERED, 0) + counts.get(counters.DEAD_LETTERED, 0)
            + counts.get(counters.UNSENT, 0))


class DeliveryRate:
    """The sink's rate measured so far: events settled per second since the first time some
    were seen settled (what came before that moment is not timed, so it is left out).

    >>> rate = DeliveryRate()
    >>> rate.observe(10.0, {"read": 900}), rate.observe(20.0, {"delivered": 300})
    (None, None)
    >>> rate.observe(30.0, {"delivered": 2900, "dead_lettered": 580})
    318.0
    """

    def __init__(self):
        self._first = None

    def observe(self, elapsed: float, counts: dict) -> float | None:
        settled = settled_at_sink(counts)
        if self._first is None:
            if settled:
                self._first = (elapsed, settled)
            return None
        seconds, events = elapsed - self._first[0], settled - self._first[1]
        return events / seconds if seconds > 0 and events > 0 else None


def estimate_seconds_left(counts: dict, total_bytes: int | None, rate_cap: float | None,
                          measured_rate: float | None = None) -> float | None:
    """Seconds until every event due is sent (delivery bounds a backfill): at the rate measured
    so far once there is one (DeliveryRate), before that at `rate_cap` events/s. No estimate
    with neither (--preview sends nothing; a destination that merges events into calls of its
    own has no cap in events until its rate is measured).

    Events due: those handed to the sink so far (by_type.*), scaled up by the share of the input
    not read yet; before any has reached the sink (batch: reading comes first), every event read
    so far, scaled the same way: an upper bound. Minus those settled at the sink.

    >>> estimate_seconds_left({"read": 500, "bytes_read": 250}, 1000, 50)   # 2000 due, none sent
    40.0
    >>> estimate_seconds_left({"read": 2000, "bytes_read": 1000, "by_type.track": 800,
    ...                        "delivered": 300, "dead_lettered": 100}, 1000, 50)
    8.0
    >>> estimate_seconds_left({"read": 2000, "bytes_read": 1000, "by_type.track": 800,
    ...                        "delivered": 300, "dead_lettered": 100}, 1000, 50, measured_rate=20)
    20.0
    >>> estimate_seconds_left({"read": 2000, "bytes_read": 1000, "by_type.track": 800,
    ...                        "delivered": 300, "dead_lettered": 100}, 1000, None, measured_rate=10)
    40.0
    """
    fraction = read_fraction(counts, total_bytes)
    if not fraction or not (measured_rate or rate_cap):
        return None
    handed = sum(counts.get(counters.by_type(kind), 0) for kind in counters.SENT_TYPES)
    due = (handed or counts.get(counters.READ, 0)) / fraction
    return max(due - settled_at_sink(counts), 0.0) / (measured_rate or rate_cap)


def progress_line(elapsed: float, counts: dict, previous_read: int, interval: float,
                  memory_bytes: int | None = None, total_bytes: int | None = None,
                  rate_cap: float | None = None, outage: tuple[str, float] | None = None,
                  measured_rate: float | None = None) -> str:
    """One line: elapsed time, the main counts, the read rate over the last interval, and the
    resident memory when known; with the input's size, the share read and, with the rate cap
    (not for --preview), the estimated time to finish (at `measured_rate` once known).

    >>> progress_line(75, {"read": 3000, "delivered": 10, "filtered": 5}, 1000, 10, 3 * 2**29)
    'progress 00:01:15  read 3000  settled 15  delivered 10  previewed 0  dead-lettered 0  200 read/s  memory 1.5 GiB'
    >>> progress_line(75, {"read": 3000, "bytes_read": 2**29}, 1000, 10, total_bytes=2**30, rate_cap=50)
    'progress 00:01:15  read 3000 (50% of 1.0 GiB)  settled 0  delivered 0  previewed 0  dead-lettered 0  200 read/s  eta 00:02:00'
    >>> progress_line(75, {"read": 3000}, 3000, 10, outage=("14:02:11", 7.6))[-62:]
    'read/s  Gainsight unreachable since 14:02:11, next probe in 8s'
    """
    read = counts.get(counters.READ, 0)
    dead = counts.get(counters.DEAD_LETTERED, 0) + counts.get(counters.INVALID, 0)
    rate = (read - previous_read) / interval if interval > 0 else 0.0
    settled = sum(counts.get(name, 0) for name in counters.OUTCOMES)
    fraction = read_fraction(counts, total_bytes)
    share = "" if fraction is None else f" ({fraction:.0%} of {_size(total_bytes)})"
    left = estimate_seconds_left(counts, total_bytes, rate_cap, measured_rate)
    return (f"progress {_clock(elapsed)}  read {read}{share}  settled {settled}  "
            f"delivered {counts.get(counters.DELIVERED, 0)}  previewed {counts.get(counters.PREVIEWED, 0)}  "
            f"dead-lettered {dead}  {rate:.0f} read/s"
            + ("" if left is None else f"  eta {_clock(left)}")
            + ("" if memory_bytes is None else f"  memory {memory_bytes / 2**30:.1f} GiB")
            + ("" if outage is None else
               f"  Gainsight unreachable since {outage[0]}, next probe in {outage[1]:.0f}s"))


def outage_now() -> tuple[str, float] | None:
    """(local time the earliest open breaker opened, seconds to its next probe), or None."""
    return _as_local_time(current_outage())


def _as_local_time(outage: tuple[float, float] | None) -> tuple[str, float] | None:
    if outage is None:
        return None
    return time.strftime("%H:%M:%S", time.localtime(outage[0])), outage[1]


def _size(size: int) -> str:
    """1536 -> '1.5 KiB'; 3 * 2**30 -> '3.0 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class ProgressReporter:
    """Context manager: resets and enables LOCAL_TALLY and prints progress_line() every
    `interval` seconds. `workers_dir`: the run's directory when it runs on worker processes,
    whose counts are there (transforms.common.worker_files); `memory` is then that of the whole
    process tree."""

    def __init__(self, interval: float = PROGRESS_INTERVAL_SECONDS, out=None, clock=time.monotonic,
                 memory=None, total_bytes: int | None = None, rate_cap: float | None = None,
                 workers_dir: str | None = None):
        self._total_bytes = total_bytes  # of the input files: the share read (a file backfill)
        self._rate_cap = rate_cap        # events/s at most: the time left before a rate is measured
        self._workers_dir = workers_dir
        self._memory = memory or (resident_memory_bytes if workers_dir is None
                                  else tree_resident_memory_bytes)
        self._interval = interval
        self._out = out or sys.stderr
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._report, name="progress", daemon=True)

    def __enter__(self):
        counters.LOCAL_TALLY.reset()   # a run's counts only, also when run() is called again
        counters.LOCAL_TALLY.enabled = True
        self._started = self._clock()
        self._thread.start()
        return self

    def counts(self) -> dict:
        """The run's counts so far: this process's, and its workers'."""
        counts = counters.LOCAL_TALLY.snapshot()
        if self._workers_dir is not None:
            for name, value in worker_files.read_counts(self._workers_dir).items():
                counts[name] = counts.get(name, 0) + value
        return counts

    def outage(self) -> tuple[str, float] | None:
        """outage_now(), of this process or of its workers (the earliest)."""
        if self._workers_dir is None:
            return outage_now()
        return _as_local_time(worker_files.read_outage(self._workers_dir))

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _report(self):
        previous_read = 0
        delivery = DeliveryRate()
        while not self._stop.wait(self._interval):
            counts = self.counts()
            elapsed = self._clock() - self._started
            print(progress_line(elapsed, counts, previous_read, self._interval, self._memory(),
                                self._total_bytes, self._rate_cap, self.outage(),
                                delivery.observe(elapsed, counts)),
                  file=self._out, flush=True)
            previous_read = counts.get(counters.READ, 0)
