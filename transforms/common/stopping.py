"""A process-wide "stop delivering" request, for a local run that is asked to stop.

    request_stop("interrupted by SIGTERM")   # pipeline.main's signal handler
    stop_requested()                          # True: the reader reads no more lines, the sink
                                              # sends no new request (each held-back event is
                                              # counted `unsent`; a resume with --checkpoint
                                              # sends it)

A local run on several cores has its DoFns in worker processes: the job's process shares its
request with them (share_with_workers: request_stop() also writes the run directory's stop
file, transforms.common.worker_files), and each worker watches that file (watch: stop_requested()
looks for it every CHECK_SECONDS). On Dataflow nothing calls request_stop() and the job is
drained or cancelled by Dataflow itself.
"""
import threading
import time

from transforms.common import worker_files

CHECK_SECONDS = 0.25   # how often a worker looks for the stop file

_requested = threading.Event()
_reason: list[str] = []
_shared_dir: list[str] = []    # the job's process: the run directory its workers watch
_watched: list = []            # a worker: [run directory, monotonic time of the next look]


def request_stop(reason: str) -> None:
    """Asks every stage of this process (and of its workers) to stop taking new work; the first
    reason is kept."""
    if not _requested.is_set():
        _reason.append(reason)
        _requested.set()
        for directory in _shared_dir:
            worker_files.write_stop(directory, reason)


def stop_requested() -> bool:
    if _requested.is_set():
        return True
    if _watched and time.monotonic() >= _watched[1]:
        _watched[1] = time.monotonic() + CHECK_SECONDS
        reason = worker_files.stop_reason_in(_watched[0])
        if reason is not None:
            request_stop(reason)
    return _requested.is_set()


def stop_reason() -> str | None:
    return _reason[0] if _reason else None


def share_with_workers(directory: str | None) -> None:
    """The job's process: from now on a stop request also reaches the workers of the run whose
    directory this is (None: no longer)."""
    _shared_dir[:] = [] if directory is None else [directory]


def watch(directory: str | None) -> None:
    """A worker process: stop_requested() also answers True once the job's process has asked
    its workers to stop (the stop file in `directory`; None: no longer)."""
    _watched[:] = [] if directory is None else [directory, 0.0]


def reset() -> None:
    """Clears the request (tests, and a process that runs the job twice)."""
    _requested.clear()
    _reason.clear()
