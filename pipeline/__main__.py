"""`python -m pipeline ARGS`, and the `segment-to-gainsight` command: run the job (see README)."""
from pipeline.main import exit_process, run


def main() -> None:
    """The console script's entry point: runs the job and ends the process with its exit code
    (after a local backfill, without the interpreter's slow teardown: see exit_process)."""
    exit_process(run())


if __name__ == "__main__":
    main()
