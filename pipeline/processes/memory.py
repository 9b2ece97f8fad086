"""Resident memory of a process and of its process tree, from /proc (Linux): the progress
line's `memory` and the benchmarks' sampler read it the same way. Imports nothing heavy, so the
bench harness stays small. Also how often a backfill collects garbage (the job's, its workers'
and the benchmark baseline's alike).

>>> resident_memory_bytes(pid=2**22 + 12345) is None   # no such process
True
"""
import gc
import os

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_memory_bytes(pid: int | str = "self") -> int | None:
    """The process's resident set size now (this process by default); None where there is no
    /proc entry for it."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def process_tree(root: int | None = None) -> list[int]:
    """root (this process by default) and all its descendants alive now, from /proc (each
    process's parent in /proc/<pid>/stat)."""
    root = os.getpid() if root is None else root
    children = _children_map()
    tree, todo = [], [root]
    while todo and len(tree) < 10_000:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def tree_resident_memory_bytes() -> int | None:
    """The resident memory of this process and its descendants (a local run's worker
    processes), summed: shared pages count once per process, an upper bound."""
    sizes = [resident_memory_bytes(pid) for pid in process_tree()]
    return sum(size for size in sizes if size) or None


def parent_pid(pid: int) -> int | None:
    """The parent of process `pid` (from /proc/<pid>/stat), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after the last ')'
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def _children_map() -> dict[int, list[int]]:
    """{parent pid: [child pids]} of every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            parent = parent_pid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    return children


def collect_garbage_less_often() -> None:
    """A backfill allocates millions of small objects (events, links, facts), most of them kept
    until a later step: collecting the young generation every 100,000 allocations instead of
    Python's 700 saves 2 to 5% of a run, for the job (pipeline.main) and for the plain-Python
    baseline (bench.baseline) alike, which is why both call it."""
    gc.set_threshold(100_000, 50, 100)
