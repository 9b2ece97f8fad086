"""A process-wide "stop delivering" request, for a local run that is asked to stop.

    request_stop("interrupted by SIGTERM")   # pipeline.main's signal handler
    stop_requested()                          # True: the reader reads no more lines, the sink
                                              # sends no new request (each held-back event is
                                              # counted `unsent`; a resume with --checkpoint
                                              # sends it)

Only a local run, whose DoFns live in this process, can be stopped this way; on Dataflow
nothing calls request_stop() and the job is drained or cancelled by Dataflow itself.
"""
import threading

_requested = threading.Event()
_reason: list[str] = []


def request_stop(reason: str) -> None:
    """Asks every stage of this process to stop taking new work; the first reason is kept."""
    if not _requested.is_set():
        _reason.append(reason)
        _requested.set()


def stop_requested() -> bool:
    return _requested.is_set()


def stop_reason() -> str | None:
    return _reason[0] if _reason else None


def reset() -> None:
    """Clears the request (tests, and a process that runs the job twice)."""
    _requested.clear()
    _reason.clear()
