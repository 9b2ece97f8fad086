"""Run a command and measure it: wall time, peak RSS of its whole process tree, CPU time.

    result = measure(["python", "-m", "pipeline", ...], timeout=600, log_prefix="out/job")
    result["wall_seconds"], result["peak_rss_bytes"], result["returncode"]

Every `interval` seconds (0.2 by default) the process tree rooted at the child is walked through
/proc (each process's parent from /proc/<pid>/stat; the child runs in its own session) and the
RSS of all its processes (VmRSS, /proc/<pid>/statm) is summed; the peak of that sum is
`peak_rss_bytes`. Forked workers share pages copy-on-write, so the sum counts shared pages once
per process: an upper bound of the real footprint. `peak_pss_bytes` (proportional set size, shared
pages split between the processes sharing them, from /proc/<pid>/smaps_rollup) is the fairer
figure when there are several processes; it is None where the kernel has no smaps_rollup.

The wall time ends when the child does, not at the next sample: between samples the loop waits on
a pidfd of the child (Linux 5.3+), which wakes it the moment the child exits (a plain sleep
would round every wall time up to the sampler's next tick, up to `interval` late).

Peaks shorter than the interval can be missed. `max_rss_bytes` cannot miss one: it is the
kernel's high-water mark of resident memory (ru_maxrss from wait4() on the child), for the largest
single process among the child and its waited-for descendants. For a one-process job it is the
exact peak; the local runner's peaks are short spikes while a shuffle is regrouped, which a 0.2 s
sampler catches only in part. The child starts as a copy of the measuring process, so the mark
is never below that process's own size at the start (small for `python -m bench`). CPU seconds
also come from wait4(): the child's own and its waited-for descendants' user+system time.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

from pipeline.processes.memory import process_tree, resident_memory_bytes

DEFAULT_INTERVAL = 0.2
PSS_SUPPORTED = os.path.exists("/proc/self/smaps_rollup")
KILL_GRACE_SECONDS = 10.0


def rss_bytes(pid: int) -> int:
    """The process's RSS now; 0 once it has ended."""
    return resident_memory_bytes(pid) or 0


def pss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        return None
    return None


def tree_memory(root: int, with_pss: bool = True) -> tuple[int, int | None, int]:
    """(summed RSS, summed PSS or None, number of processes) of root's tree now."""
    pids = process_tree(root)
    rss = sum(rss_bytes(pid) for pid in pids)
    pss = None
    if with_pss and PSS_SUPPORTED:
        # a process that ended between the walk and the read counts 0
        pss = sum(value for value in map(pss_bytes, pids) if value is not None)
    return rss, pss, len(pids)


def measure(command, *, env=None, cwd=None, timeout: float = 3600.0,
            interval: float = DEFAULT_INTERVAL, log_prefix: str | Path | None = None,
            rss_limit_bytes: int | None = None) -> dict:
    """Runs `command` (a list) to completion or `timeout`; returns the measurements.

    stdout/stderr go to LOG_PREFIX.stdout / .stderr (or are discarded). On timeout, or when the
    tree's summed RSS passes `rss_limit_bytes`, the child's process group gets SIGTERM, then
    SIGKILL after a grace period, and timed_out / memory_exceeded is True.
    """
    if log_prefix is not None:
        Path(log_prefix).parent.mkdir(parents=True, exist_ok=True)
        stdout = open(f"{log_prefix}.stdout", "wb")
        stderr = open(f"{log_prefix}.stderr", "wb")
    else:
        stdout = stderr = subprocess.DEVNULL
    peak_rss = peak_processes = 0
    peak_pss: int | None = 0
    samples = 0
    timed_out = memory_exceeded = False
    started = time.monotonic()
    exited = None
    try:
        child = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout, stderr=stderr,
                                 start_new_session=True)
        status = rusage = None
        exited = _ExitWaiter(child.pid)
        deadline = started + timeout
        kill_at = give_up_at = None
        while samples < 10_000_000:
            pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            status = rusage = None
            rss, pss, count = tree_memory(child.pid, with_pss=peak_pss is not None)
            samples += 1
            peak_rss = max(peak_rss, rss)
            peak_processes = max(peak_processes, count)
            peak_pss = None if pss is None or peak_pss is None else max(peak_pss, pss)
            now = time.monotonic()
            if rss_limit_bytes and rss > rss_limit_bytes and not (timed_out or memory_exceeded):
                memory_exceeded = True
                _signal_group(child.pid, signal.SIGTERM)
                kill_at = now + KILL_GRACE_SECONDS
            elif not (timed_out or memory_exceeded) and now > deadline:
                timed_out = True
                _signal_group(child.pid, signal.SIGTERM)
                kill_at = now + KILL_GRACE_SECONDS
            elif kill_at is not None and now > kill_at:
                _signal_group(child.pid, signal.SIGKILL)
                kill_at, give_up_at = None, now + KILL_GRACE_SECONDS
            elif give_up_at is not None and now > give_up_at:
                break
            exited(interval)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status) if status is not None else None
    finally:
        if exited is not None:
            exited.close()
        for handle in (stdout, stderr):
            if handle is not subprocess.DEVNULL:
                handle.close()
    return {
        "command": [str(part) for part in command],
        "returncode": child.returncode,
        "timed_out": timed_out,
        "memory_exceeded": memory_exceeded,
        "wall_seconds": round(wall, 3),
        "peak_rss_bytes": peak_rss,
        "peak_pss_bytes": peak_pss,
        "peak_processes": peak_processes,
        # ru_maxrss is in KiB on Linux
        "max_rss_bytes": rusage.ru_maxrss * 1024 if rusage else None,
        "cpu_user_seconds": round(rusage.ru_utime, 3) if rusage else None,
        "cpu_system_seconds": round(rusage.ru_stime, 3) if rusage else None,
        "samples": samples,
        "interval_seconds": interval,
        "log_prefix": str(log_prefix) if log_prefix is not None else None,
    }


class _ExitWaiter:
    """waiter(seconds): returns once `pid` (a child of this process) has exited, or after
    `seconds`; close() when done. Waits on a pidfd, else (no pidfd_open here) sleeps."""

    def __init__(self, pid: int):
        try:
            self._fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._fd = None

    def __call__(self, seconds: float) -> None:
        if self._fd is None:
            time.sleep(seconds)
        else:
            select.select([self._fd], [], [], seconds)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _signal_group(pid: int, signum: int):
    """Signals the child's process group (its own session, started by measure())."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def tail(path: str | Path, lines: int = 20) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
