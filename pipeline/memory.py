"""Resident memory of a process, from /proc (Linux): the progress line's `memory` and the
benchmarks' sampler read it the same way. Imports nothing heavy, so the bench harness stays small.

>>> resident_memory_bytes(pid=2**22 + 12345) is None   # no such process
True
"""
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
