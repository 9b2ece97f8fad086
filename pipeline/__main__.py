"""`python -m pipeline ARGS`: run the job (see README for the flags)."""
from pipeline.main import exit_process, run

exit_process(run())
