"""`python -m pipeline.processes.worker`: one worker process of a local backfill on several cores, started
by the local runner (pipeline.main.local_runner): Beam's SDK harness
(apache_beam.runners.worker.sdk_worker_main), and three things of the job's own first:

    python -m pipeline.processes.worker                 # started by the runner, its environment set
    python -m pipeline.processes.worker --warm DIR/worker-N   # started early (pipeline.processes.warm_workers):
                                                    # imports, then waits for the runner's
                                                    # worker command to attach

- Ctrl-C in a terminal reaches every process of the job: a worker ignores it, and the job's
  process stops the run the graceful way (pipeline.main.StopOnSignals);
- that stop reaches the worker through the run's directory ($SEGMENT_TO_GAINSIGHT_RUN_DIR,
  transforms.common.worker_files), which transforms.common.stopping watches here; the worker's counts and
  open outage (its circuit breakers) go to the same directory, for the progress line, and,
  as it ends, what it recorded for the run's report (transforms.common.report_tally);
- garbage is collected as seldom as in the job's process (pipeline.processes.memory).
"""
import json
import logging
import os
import signal
import socket
import struct
import sys

from pipeline.processes.memory import collect_garbage_less_often, parent_pid

if __name__ == "__main__":   # first, as the imports below take a while (imported: nothing happens)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect_garbage_less_often()

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402  (after the lines above, on purpose)

from pipeline.processes.worker_attach import socket_name  # noqa: E402
from transforms.common import counters, report_tally, stopping, worker_files  # noqa: E402
from transforms.delivery.circuit_breaker import current_outage  # noqa: E402


ATTACH_CHECK_SECONDS = 1.0   # a warm worker looks this often whether its job's process is gone


def wait_and_run(marker: str) -> None:
    """A warm worker: listens on socket_name(marker), then creates `marker` (so a client never
    finds a worker that does not listen yet), takes one connection from a process its job
    started (started_by), whose first line is the environment as JSON (pipeline.processes.worker_attach),
    runs as that worker, then sends its exit code and ends. Ends at once when its job's process
    is gone before anyone attached."""
    parent = os.getppid()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(socket_name(marker))
        server.listen(1)
        with open(marker, "x", encoding="utf-8"):
            pass
        server.settimeout(ATTACH_CHECK_SECONDS)
        while True:
            try:
                connection, _ = server.accept()
            except socket.timeout:
                if os.getppid() != parent:
                    os._exit(0)   # pylint: disable=protected-access
                continue
            if started_by(connection, parent):
                break
            connection.close()
    with connection:
        connection.settimeout(None)
        environment = json.loads(connection.makefile("rb").readline())
        os.environ.clear()
        os.environ.update(environment)
        code = 1
        try:
            main()
            code = 0
        finally:
            connection.sendall(str(code).encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)   # pylint: disable=protected-access  (as the harness's own end: no teardown)


def started_by(connection: socket.socket, job_pid: int) -> bool:
    """Whether the client at the other end is a process the job `job_pid` started, as its
    runner's workers are (anyone on the machine can reach an abstract socket: a worker takes
    its environment, and then its work, from its own job only)."""
    peer_pid, peer_uid, _ = struct.unpack("3i", connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return peer_uid == os.getuid() and parent_pid(peer_pid) == job_pid


def main() -> None:
    # Its one warning is that no pickled __main__ session was staged, which the job's DoFns
    # (importable modules) never need; said once per worker, it would only alarm.
    logging.getLogger(sdk_worker_main.__name__).setLevel(logging.ERROR)
    directory = os.environ.get(worker_files.RUN_DIR_ENV)
    report_tally.enable(os.environ.get(report_tally.REPORT_ENV) == "1")
    if directory:
        stopping.watch(directory)
        counters.LOCAL_TALLY.publish_to(directory, current_outage)
    sdk_worker_main.main(sys.argv)
    if directory and report_tally.enabled():   # the runner waits for this process to end
        worker_files.write_report_tally(directory, report_tally.snapshot())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--warm":
        wait_and_run(sys.argv[2])
    else:
        main()
