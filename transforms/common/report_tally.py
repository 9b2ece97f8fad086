"""What a local run records for its report beyond the Beam counters, kept only while a run
that writes a report records (recording(); a worker process of that run finds REPORT_ENV set;
on Dataflow nothing is kept, and a run without --report pays nothing):

- requests per second by what their answer was: accepted (2xx), retried (429, 5xx, timeout,
  connection error), failed (any other answer), recorded by the delivering DoFns
  (transforms.delivery.answers);
- the outages the sink's circuit breakers saw (wall-clock start and end, one per breaker);
- the track event names handed to the sink (to_request), at most MAX_EVENT_NAMES different
  ones per process (the rest count under OTHER_NAMES).

A worker process of a local run writes its snapshot to the run's directory when it ends
(transforms.common.worker_files.write_report_tally); the job's process adds them to its own.

    >>> enable(True); reset()
    >>> add_answer(1767000000, ACCEPTED); add_answer(1767000000, RETRIED); note_event({"type": "track", "event": "Signed Up"})
    >>> snapshot()
    {'per_second': {'1767000000': {'accepted': 1, 'retried': 1}}, 'outages': [], 'event_names': {'Signed Up': 1}}
    >>> merged([snapshot(), snapshot()])["per_second"]
    {'1767000000': {'accepted': 2, 'retried': 2}}
    >>> enable(False); reset()
"""
import contextlib
import os
import threading

REPORT_ENV = "SEGMENT_TO_GAINSIGHT_REPORT"   # "1": this worker process records for the report

ACCEPTED, RETRIED, FAILED = "accepted", "retried", "failed"
MAX_EVENT_NAMES = 10_000
OTHER_NAMES = "(other names)"

_enabled = False
_lock = threading.Lock()
_per_second: dict = {}
_outages: list = []
_local = threading.local()
_event_name_dicts: list = []


def enable(on: bool) -> None:
    """Records from now on (or not) in this process."""
    global _enabled   # pylint: disable=global-statement
    _enabled = bool(on)


def enabled() -> bool:
    return _enabled


@contextlib.contextmanager
def recording(on: bool):
    """While a local run works: records in this process when `on`, and tells the worker
    processes it starts (they inherit REPORT_ENV); both undone after."""
    before = os.environ.get(REPORT_ENV)
    enable(on)
    if on:
        os.environ[REPORT_ENV] = "1"
    try:
        yield
    finally:
        enable(False)
        if before is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = before


def add_answer(second: int, category: str) -> None:
    """One request answered in unix second `second`: ACCEPTED, RETRIED or FAILED."""
    if not _enabled:
        return
    with _lock:
        row = _per_second.setdefault(second, {})
        row[category] = row.get(category, 0) + 1


def add_outage(started: float, ended: float) -> None:
    """A circuit breaker's outage, over: unix times it opened and closed (or gave up)."""
    if _enabled and started is not None:
        with _lock:
            _outages.append([round(started, 3), round(ended, 3)])


def note_event(event: dict) -> None:
    """An event handed to the sink: a track's name is counted (cheap: a dict of this thread)."""
    if not _enabled or event.get("type") != "track":
        return
    names = getattr(_local, "names", None)
    if names is None:
        names = _local.names = {}
        with _lock:
            _event_name_dicts.append(names)
    name = event.get("event")
    name = name if isinstance(name, str) else str(name)
    if name not in names and len(names) >= MAX_EVENT_NAMES:
        name = OTHER_NAMES
    names[name] = names.get(name, 0) + 1


def reset() -> None:
    """Forgets everything (a new run)."""
    global _local, _event_name_dicts   # pylint: disable=global-statement
    with _lock:
        _per_second.clear()
        _outages.clear()
        _local = threading.local()
        _event_name_dicts = []


def snapshot() -> dict:
    """{"per_second": {"<unix second>": {category: requests}}, "outages": [[start, end], ...],
    "event_names": {name: events}}."""
    with _lock:
        per_second = {str(second): dict(row) for second, row in sorted(_per_second.items())}
        dicts = list(_event_name_dicts)
        outages = [list(window) for window in _outages]
    names: dict = {}
    for counts in dicts:
        for name, value in _copy(counts).items():
            names[name] = names.get(name, 0) + value
    return {"per_second": per_second, "outages": outages, "event_names": names}


def merged(snapshots) -> dict:
    """Several processes' snapshots added up."""
    per_second: dict = {}
    names: dict = {}
    outages: list = []
    for snap in snapshots:
        outages += snap.get("outages", [])
        for second, row in snap.get("per_second", {}).items():
            total = per_second.setdefault(second, {})
            for category, value in row.items():
                total[category] = total.get(category, 0) + value
        for name, value in snap.get("event_names", {}).items():
            names[name] = names.get(name, 0) + value
    return {"per_second": dict(sorted(per_second.items())), "outages": sorted(outages),
            "event_names": names}


def _copy(counts: dict) -> dict:
    while True:
        try:
            return dict(counts)
        except RuntimeError:   # its thread added a name meanwhile: try again
            continue
