"""Batch on a local runner: the per-user step's event blocks wait in local files, not in memory.

    UserKeyer ─► SpillFile.write(block) ─► (bucket, ref) ─► GroupByUser ─► read_spilled(ref) ─► block

Beam's local runner holds a shuffle in its own memory and hands the per-user step its input as
one buffer per stage, copied several times on the way (encoding, grouping, the data channel):
for a 1M-event backfill that is about 500 MB of event bytes, copied five or six times, and the
process holds them all until the run ends. A plain script would spill them to a file. So, when
the job runs locally, each bundle of the fused read step appends its event blocks to a file of
its own in the run's spill directory and only a small reference, ((file, offset, length)),
crosses the shuffle; the per-user step reads each block back when its bucket's turn comes.

The directory is made for the run by pipeline.main (make_spill_dir, in $TMPDIR) and removed when
the run ends; one that a killed run left behind is removed by the next run on the machine.
On Dataflow nothing is spilled: the blocks go through Dataflow's shuffle, which is built for it.
A file is complete when its bundle ends (closed in finish_bundle), before the shuffle's barrier
lets the per-user step start.

>>> import tempfile
>>> spill = SpillFile(tempfile.mkdtemp())
>>> refs = [spill.write([b"first"]), spill.write([b"sec", b"ond"])]
>>> spill.close()
>>> reader = SpillReader()
>>> [reader.read(ref) for ref in refs]
[b'first', b'second']
>>> reader.close()
"""
import os
import shutil
import tempfile
import uuid

_BUFFER = 1 << 20
SPILL_DIR_PREFIX = "segment-to-gainsight-spill-"


def make_spill_dir() -> str:
    """A new spill directory for this run in $TMPDIR, named after this process:
    segment-to-gainsight-spill-<pid>-<random>. The directories of runs whose process is gone
    (a SIGKILLed run cannot remove its own) are removed first; a live run's are left alone."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        pid = _owner_pid(name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=run_dir_prefix(), dir=root)


def run_dir_prefix() -> str:
    """The name every directory of this run starts with (in $TMPDIR): a new run removes those
    of runs whose process is gone (make_spill_dir), the warm workers' too (pipeline.processes.warm_workers)."""
    return f"{SPILL_DIR_PREFIX}{os.getpid()}-"


def _owner_pid(name: str) -> int | None:
    if not name.startswith(SPILL_DIR_PREFIX):
        return None
    pid = name[len(SPILL_DIR_PREFIX):].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: alive
        return True
    return True


class SpillFile:
    """A bundle's spill file, made on the first write(chunks) -> (path, offset, length)."""

    def __init__(self, directory: str):
        self._directory = directory
        self._file = None
        self._offset = 0

    def write(self, chunks) -> tuple:
        """A block, given as its bytes in pieces (written as they come) -> its ref."""
        if self._file is None:
            path = os.path.join(self._directory, f"{uuid.uuid4().hex}.blocks")
            self._file = open(path, "xb", buffering=_BUFFER)
        start = self._offset
        self._file.writelines(chunks)
        self._offset = self._file.tell()
        return self._file.name, start, self._offset - start

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class SpillReader:
    """read(ref) -> the block SpillFile.write() returned `ref` for; close() when done."""

    def __init__(self):
        self._descriptors = {}

    def read(self, ref) -> bytes:
        path, offset, length = ref
        descriptor = self._descriptors.get(path)
        if descriptor is None:
            descriptor = self._descriptors[path] = os.open(path, os.O_RDONLY)
        block = os.pread(descriptor, length, offset)
        if len(block) != length:
            raise OSError(f"spill file {path} is shorter than its blocks: was it removed or "
                          f"truncated while the job ran?")
        return block

    def close(self):
        for descriptor in self._descriptors.values():
            os.close(descriptor)
        self._descriptors = {}


def block_of(value, reader: SpillReader) -> bytes:
    """A GroupByUser value -> its event block: the block itself, or read back from a spill file."""
    return value if isinstance(value, bytes) else reader.read(value)
