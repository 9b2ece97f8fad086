"""`python -m pipeline ARGS`, and the `segment-to-gainsight` command: run the job (see README)."""
import sys

from pipeline.processes.local_workers import planned_workers
from pipeline.processes.memory import collect_garbage_less_often
from pipeline.processes.warm_workers import WarmWorkers

# Before Beam's thousands of modules and the graph's objects are made: Python's default
# threshold collects garbage about 130 times while they are (0.1 to 0.15 s of a run).
collect_garbage_less_often()

# A local backfill that will run on worker processes starts them now, to import Beam while
# this process does (pipeline.processes.warm_workers); the run uses them, or stops them (pipeline.main).
_PLANNED = planned_workers(sys.argv[1:])
_WARM = WarmWorkers.start(_PLANNED) if _PLANNED else None

from pipeline.main import exit_process, run  # noqa: E402  (after the lines above, on purpose)


def main() -> None:
    """The console script's entry point: runs the job and ends the process with its exit code
    (after a local backfill, without the interpreter's slow teardown: see exit_process)."""
    exit_process(run(warm=_WARM))


if __name__ == "__main__":
    main()
