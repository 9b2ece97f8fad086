"""How many worker processes a local backfill runs on, and the guess of it that the CLI makes
before it imports Beam (to start the workers early: pipeline.processes.warm_workers). Imports nothing
heavy.

    worker_count(mode, num_workers, chosen, input_bytes, files, cpus)   # the decision (pipeline.main)
    planned_workers(argv)                                               # the early guess, from the flags

>>> worker_count("in_memory", 1, False, 400 << 20, 20, cpus=2)     # 400 MiB in 20 files, 2 CPUs
2
>>> worker_count("in_memory", 1, False, 10 << 20, 20, cpus=2) is None   # small: in the job's process
True
>>> worker_count("multi_processing", 3, True, None, 0, cpus=2)     # the user's choice
3
"""
import glob
import os

from transforms.common.paths import input_pattern, is_remote, is_visible

# A local backfill of at least this much input (as stored) runs on one worker process per CPU,
# at most MAX_LOCAL_WORKERS, unless --direct_running_mode or --direct_num_workers says otherwise.
PARALLEL_INPUT_BYTES = 16 << 20
MAX_LOCAL_WORKERS = 8
RUNNING_MODE_FLAGS = ("--direct_running_mode", "--direct_num_workers")
# Flags after which no local backfill runs (or not one the guess can size).
_NOT_A_LOCAL_BACKFILL = ("--streaming", "--input_subscription", "--input_topic", "--dry_run",
                         "--help", "--help_beam", "--version", "-h")
_LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner")


def worker_count(mode: str | None, num_workers: int | None, chosen: bool,
                 input_bytes: int | None, files: int, cpus: int) -> int | None:
    """How many worker processes a local backfill runs on; None: in the job's process.

    `chosen` (--direct_running_mode or --direct_num_workers given): multi_processing runs
    `num_workers` of them (0: one per CPU), any other mode none. Not chosen: one per CPU, at
    most MAX_LOCAL_WORKERS and no more than there are files, for an input of at least
    PARALLEL_INPUT_BYTES (as stored); a smaller one is done before a second process would pay
    for itself (docs/performance.md)."""
    if chosen:
        if mode != "multi_processing":
            return None
        return num_workers or cpus
    if not input_bytes or input_bytes < PARALLEL_INPUT_BYTES:
        return None
    workers = min(cpus, MAX_LOCAL_WORKERS, files)
    return workers if workers > 1 else None


def chose_running_mode(argv) -> bool:
    """Whether the flags name Beam's local running mode or its number of workers."""
    return any(_name(arg) in RUNNING_MODE_FLAGS for arg in argv)


def planned_workers(argv, cpus: int | None = None) -> int | None:
    """worker_count() as far as the flags alone tell, before anything is imported or checked:
    the --input files are sized on the local disk. None when the run is not a local backfill
    (a stream, a remote runner, a dry run, --help) or when an input is remote (gs://): a wrong
    guess only costs worker processes started for nothing, or started late.

    >>> planned_workers(["--input", "gs://b/logs/", "--direct_running_mode=multi_processing"]) is None
    True
    """
    values = _values(argv)
    if any(flag in values for flag in _NOT_A_LOCAL_BACKFILL):
        return None
    if any(runner not in _LOCAL_RUNNERS for runner in values.get("--runner", [])):
        return None
    inputs = values.get("--input", [])
    if not inputs or any(is_remote(value) for value in inputs):
        return None
    cpus = cpus or os.cpu_count() or 1
    mode = (values.get("--direct_running_mode") or ["in_memory"])[-1]
    try:
        num_workers = int((values.get("--direct_num_workers") or ["1"])[-1])
    except ValueError:
        return None   # the real check names the flag
    if any(flag in values for flag in RUNNING_MODE_FLAGS):   # the user chose the mode
        return worker_count(mode, num_workers, True, None, 0, cpus)
    size, files = local_input_size(inputs)
    return worker_count(mode, num_workers, False, size, files, cpus)


def local_input_size(inputs) -> tuple[int, int]:
    """(bytes, number) of the local files the --input values match, as the reader would read
    them (a directory's files below it, hidden ones skipped)."""
    patterns = [input_pattern(value) for value in inputs]
    paths = set()
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            if os.path.isfile(path) and is_visible(path, patterns):
                paths.add(path)
    return sum(os.path.getsize(path) for path in paths), len(paths)


def _name(arg: str) -> str:
    return arg.split("=", 1)[0]


def _values(argv) -> dict[str, list[str]]:
    """{flag: [its values, in order]} ("--flag value" and "--flag=value"; a flag alone: [])."""
    values: dict[str, list[str]] = {}
    for position, arg in enumerate(argv):
        if not arg.startswith("-"):
            continue
        name, equals, value = arg.partition("=")
        given = values.setdefault(name, [])
        if equals:
            given.append(value)
        elif position + 1 < len(argv) and not argv[position + 1].startswith("--"):
            given.append(argv[position + 1])
    return values
