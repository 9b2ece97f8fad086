"""Flex Template entry point: the job, returning as soon as Dataflow has accepted it."""
import sys

from pipeline.main import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:] + ["--no_wait"]))
