"""`python -m pipeline ARGS`, and the `segment-to-gainsight` command: run the job (see README)."""
from pipeline.memory import collect_garbage_less_often

# Before Beam's thousands of modules and the graph's objects are made: Python's default
# threshold collects garbage about 130 times while they are (0.1 to 0.15 s of a run).
collect_garbage_less_often()

from pipeline.main import exit_process, run  # noqa: E402  (after the setting above, on purpose)


def main() -> None:
    """The console script's entry point: runs the job and ends the process with its exit code
    (after a local backfill, without the interpreter's slow teardown: see exit_process)."""
    exit_process(run())


if __name__ == "__main__":
    main()
