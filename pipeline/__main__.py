"""`python -m pipeline ARGS`, and the `segment-to-gainsight` command: run the job (see README)."""
import sys

from pipeline.main import run


def main() -> int:
    """The console script's entry point: the job's exit code."""
    return run()


if __name__ == "__main__":
    sys.exit(main())
