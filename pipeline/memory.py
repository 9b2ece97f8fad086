"""Resident memory of a process, from /proc (Linux): the progress line's `memory` and the
benchmarks' sampler read it the same way. Imports nothing heavy, so the bench harness stays small.
Also how often a backfill collects garbage (the job's and the benchmark baseline's alike).

>>> resident_memory_bytes(pid=2**22 + 12345) is None   # no such process
True
"""
import gc
import os

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_memory_bytes(pid: int | str = "self") -> int | None:
    """The process's resident set size now (this process by default); None where there is no
    /proc entry for it."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def collect_garbage_less_often() -> None:
    """A backfill allocates millions of small objects (events, links, facts), most of them kept
    until a later step: collecting the young generation every 100,000 allocations instead of
    Python's 700 saves 2 to 5% of a run, for the job (pipeline.main) and for the plain-Python
    baseline (bench.baseline) alike, which is why both call it."""
    gc.set_threshold(100_000, 50, 100)
