"""What a local backfill's worker processes and the job's own process tell each other, through
files in the run's directory (the spill directory, transforms.shuffle.spill; its path reaches the workers
in $SEGMENT_TO_GAINSIGHT_RUN_DIR):

    <run dir>/stop                the job's process asks every worker to stop; holds the reason
    <run dir>/counts-<pid>.json   a worker's running counts and open outage, rewritten every second
    <run dir>/report-<pid>.json   what a worker recorded for the run's report, written as it ends
                                  (transforms.common.report_tally)

    >>> import tempfile; directory = tempfile.mkdtemp()
    >>> write_counts(directory, {"read": 5}, pid=1); write_counts(directory, {"read": 2, "invalid": 1}, pid=2)
    >>> sorted(read_counts(directory).items())
    [('invalid', 1), ('read', 7)]
    >>> write_counts(directory, {}, outage=(1000.0, 7.0), now=2000.0, pid=3)
    >>> read_outage(directory, now=2003.0)   # (when it opened, seconds to its next probe)
    (1000.0, 4.0)
    >>> write_report_tally(directory, {"event_names": {"a": 1}}, pid=1); read_report_tallies(directory)
    [{'event_names': {'a': 1}}]
    >>> stop_reason_in(directory) is None
    True
    >>> write_stop(directory, "interrupted by SIGTERM"); stop_reason_in(directory)
    'interrupted by SIGTERM'

Each file is written whole under a temporary name and renamed into place, so a reader never
sees half of one. Only a run on one machine shares a directory this way (local workers); on
Dataflow nothing writes or reads these files.
"""
import json
import os
import time

RUN_DIR_ENV = "SEGMENT_TO_GAINSIGHT_RUN_DIR"
_STOP = "stop"
_COUNTS_PREFIX, _COUNTS_SUFFIX = "counts-", ".json"
_REPORT_PREFIX = "report-"


def write_stop(directory: str, reason: str) -> None:
    """Asks the run's workers to stop (they find it within transforms.common.stopping's check interval)."""
    _write_whole(os.path.join(directory, _STOP), reason.encode("utf-8"))


def stop_reason_in(directory: str) -> str | None:
    """The reason write_stop() gave, or None when no stop was asked for."""
    try:
        with open(os.path.join(directory, _STOP), "rb") as handle:
            return handle.read().decode("utf-8", "replace") or "stopped"
    except OSError:
        return None


def write_counts(directory: str, counts: dict, outage: tuple[float, float] | None = None,
                 now: float | None = None, pid: int | None = None) -> None:
    """A worker's counts so far (its whole tally, not an increment), and its open outage:
    transforms.delivery.circuit_breaker.current_outage()'s (wall time it opened, seconds to the next
    probe), or None."""
    now = time.time() if now is None else now
    name = f"{_COUNTS_PREFIX}{os.getpid() if pid is None else pid}{_COUNTS_SUFFIX}"
    status = {"counts": counts,
              "outage": None if outage is None else [outage[0], now + outage[1]]}
    _write_whole(os.path.join(directory, name), json.dumps(status).encode("utf-8"))


def read_counts(directory: str) -> dict:
    """Every worker's latest counts, added up ({} when there are none yet)."""
    total: dict[str, int] = {}
    for status in _statuses(directory):
        for key, value in status["counts"].items():
            total[key] = total.get(key, 0) + value
    return total


def read_outage(directory: str, now: float | None = None) -> tuple[float, float] | None:
    """The earliest outage open in a worker (when it opened, seconds to its next probe), as
    current_outage() gives it in one process; None when no worker has one."""
    now = time.time() if now is None else now
    outages = [(status["outage"][0], max(status["outage"][1] - now, 0.0))
               for status in _statuses(directory) if status.get("outage")]
    return min(outages) if outages else None


def write_report_tally(directory: str, tally: dict, pid: int | None = None) -> None:
    """A worker's report_tally.snapshot(), written once as the worker ends."""
    name = f"{_REPORT_PREFIX}{os.getpid() if pid is None else pid}{_COUNTS_SUFFIX}"
    _write_whole(os.path.join(directory, name), json.dumps(tally).encode("utf-8"))


def read_report_tallies(directory: str) -> list[dict]:
    """Every worker's report tally ([] when none wrote one)."""
    return _statuses(directory, _REPORT_PREFIX)


def _statuses(directory: str, prefix: str = _COUNTS_PREFIX) -> list[dict]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    statuses = []
    for name in sorted(names):
        if not (name.startswith(prefix) and name.endswith(_COUNTS_SUFFIX)):
            continue
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                statuses.append(json.loads(handle.read()))
        except (OSError, ValueError):   # removed meanwhile (the run ended): progress only
            continue
    return statuses


def _write_whole(path: str, data: bytes) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
