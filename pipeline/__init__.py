"""segment-to-gainsight: the job's options, graph, summary and entry point (`python -m pipeline`);
processes/ holds a local run's worker-process machinery. May import every package of transforms/."""

# The one place the version is written (setup.py reads it; `--version` prefers the installed
# package's metadata).
__version__ = "0.1.0"
