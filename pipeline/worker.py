"""`python -m pipeline.worker`: one worker process of a local backfill on several cores, started
by the local runner (pipeline.main.local_runner): Beam's SDK harness
(apache_beam.runners.worker.sdk_worker_main), and three things of the job's own first:

- Ctrl-C in a terminal reaches every process of the job: a worker ignores it, and the job's
  process stops the run the graceful way (pipeline.main.StopOnSignals);
- that stop reaches the worker through the run's directory ($SEGMENT_TO_GAINSIGHT_RUN_DIR,
  transforms.worker_files), which transforms.stopping watches here; the worker's counts and
  open outage (its circuit breakers) go to the same directory, for the progress line;
- garbage is collected as seldom as in the job's process (pipeline.memory).
"""
import logging
import os
import signal
import sys

from pipeline.memory import collect_garbage_less_often

if __name__ == "__main__":   # first, as the imports below take a while (imported: nothing happens)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect_garbage_less_often()

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402  (after the lines above, on purpose)

from transforms import counters, stopping, worker_files  # noqa: E402
from transforms.circuit_breaker import current_outage  # noqa: E402


def main() -> None:
    # Its one warning is that no pickled __main__ session was staged, which the job's DoFns
    # (importable modules) never need; said once per worker, it would only alarm.
    logging.getLogger(sdk_worker_main.__name__).setLevel(logging.ERROR)
    directory = os.environ.get(worker_files.RUN_DIR_ENV)
    if directory:
        stopping.watch(directory)
        counters.LOCAL_TALLY.publish_to(directory, current_outage)
    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
