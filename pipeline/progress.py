"""A progress line every few seconds while a local run works, from counters.LOCAL_TALLY:

    progress 00:00:20  read 412000  settled 180233  delivered 0  previewed 0  dead-lettered 2113  20600 read/s  memory 1.4 GiB

`settled` counts events that have reached their outcome (any of counters.OUTCOMES), so the
line moves while the job is between reading and sending too. `memory` is this process's resident
memory now: Beam's local runner holds every shuffle in memory, so a user watching a long backfill
sees it coming before the machine runs out (README, Performance).
"""
import sys
import threading
import time

from pipeline.memory import resident_memory_bytes
from transforms import counters

PROGRESS_INTERVAL_SECONDS = 10.0


def progress_line(elapsed: float, counts: dict, previous_read: int, interval: float,
                  memory_bytes: int | None = None) -> str:
    """One line: elapsed time, the main counts, the read rate over the last interval, and the
    resident memory when known.

    >>> progress_line(75, {"read": 3000, "delivered": 10, "filtered": 5}, 1000, 10, 3 * 2**29)
    'progress 00:01:15  read 3000  settled 15  delivered 10  previewed 0  dead-lettered 0  200 read/s  memory 1.5 GiB'
    """
    minutes, seconds = divmod(int(elapsed), 60)
    hours, minutes = divmod(minutes, 60)
    read = counts.get(counters.READ, 0)
    dead = counts.get(counters.DEAD_LETTERED, 0) + counts.get(counters.INVALID, 0)
    rate = (read - previous_read) / interval if interval > 0 else 0.0
    settled = sum(counts.get(name, 0) for name in counters.OUTCOMES)
    return (f"progress {hours:02d}:{minutes:02d}:{seconds:02d}  read {read}  settled {settled}  "
            f"delivered {counts.get(counters.DELIVERED, 0)}  previewed {counts.get(counters.PREVIEWED, 0)}  "
            f"dead-lettered {dead}  {rate:.0f} read/s"
            + ("" if memory_bytes is None else f"  memory {memory_bytes / 2**30:.1f} GiB"))


class ProgressReporter:
    """Context manager: enables LOCAL_TALLY and prints progress_line() every `interval` seconds
    (when `enabled`: the counts must be made in this process)."""

    def __init__(self, interval: float = PROGRESS_INTERVAL_SECONDS, out=None, clock=time.monotonic,
                 enabled: bool = True, memory=resident_memory_bytes):
        self._enabled = enabled
        self._memory = memory
        self._interval = interval
        self._out = out or sys.stderr
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._report, name="progress", daemon=True)

    def __enter__(self):
        if self._enabled:
            counters.LOCAL_TALLY.enabled = True
            self._started = self._clock()
            self._thread.start()
        else:
            print("progress: not shown in multi-processing mode (the counts are made in the "
                  "worker processes); the summary comes at the end", file=self._out, flush=True)
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _report(self):
        previous_read = 0
        while not self._stop.wait(self._interval):
            counts = counters.LOCAL_TALLY.snapshot()
            print(progress_line(self._clock() - self._started, counts, previous_read, self._interval,
                                self._memory()),
                  file=self._out, flush=True)
            previous_read = counts.get(counters.READ, 0)
