"""`python -m pipeline.processes.worker_attach DIR`: the command the local runner starts each worker with
when the CLI started warm workers (pipeline.processes.warm_workers): it takes one waiting in DIR, hands it
this process's environment (what the runner set: its addresses, the pipeline's options), waits
for it and ends with its exit code. With none left, it becomes a plain worker
(`python -m pipeline.processes.worker`). Imports nothing but the standard library: it starts at once.

Each warm worker listens on an abstract Unix socket and marks it with a file `DIR/worker-N`
(socket_name); a client takes a worker by renaming its marker first (`worker-0` ->
`worker-0.taken`), so two clients never take the same one; the worker talks only to a process
its own job started (pipeline.processes.worker.started_by). Ctrl-C is ignored here too: the job's
process stops the run (pipeline.main).
"""
import json
import os
import signal
import socket
import sys

_TAKEN = ".taken"


def socket_name(marker: str) -> str:
    """The (Linux abstract, so never too long) socket address of the warm worker whose marker
    file is `marker` (DIR/worker-N): the worker creates the marker once it listens there."""
    return "\0segment-to-gainsight-" + os.path.basename(os.path.dirname(marker)) + "-" + \
        os.path.basename(marker)


def take_worker(directory: str) -> str | None:
    """The marker of a warm worker no client has taken yet, now taken (renamed to
    MARKER.taken); its original path, for socket_name(); None when there is none."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        if name.endswith(_TAKEN):
            continue
        path = os.path.join(directory, name)
        try:
            os.rename(path, path + _TAKEN)
        except OSError:      # another client took it first
            continue
        return path
    return None


def attach(marker: str) -> int | None:
    """Hands the environment to the warm worker of `marker`; its exit code (1 if it ended
    without saying one: it crashed), or None when it was gone before it took it."""
    with socket.socket(socket.AF_UNIX) as connection:
        try:
            connection.connect(socket_name(marker))
        except OSError:
            return None
        connection.sendall(json.dumps(dict(os.environ)).encode("utf-8") + b"\n")
        answer = connection.makefile("rb").read()
    try:
        return int(answer)
    except ValueError:
        return 1


def main(argv) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while len(argv) > 1:
        marker = take_worker(argv[1])
        if marker is None:
            break
        code = attach(marker)
        if code is not None:
            sys.exit(code)
    os.execv(sys.executable, [sys.executable, "-m", "pipeline.processes.worker"])


if __name__ == "__main__":
    main(sys.argv)
