"""`python -m pipeline ARGS`: run the job (see README for the flags)."""
import sys

from pipeline.main import run

sys.exit(run())
