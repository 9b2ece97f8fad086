"""--checkpoint DIR: what a backfill has settled, recorded as it settles, so a rerun skips it.

A checkpoint directory (local or gs://) holds:

    DIR/checkpoint.json                 {"destination": "gainsight", "endpoint": "https://event.gainsight.com", "version": 1}
    DIR/settled-3f9c2a1b0d4e.jsonl      one file per recorder (local: appended to)
    DIR/settled-3f9c2a1b0d4e-000001.jsonl   (gs://: one object per flush)

and each settled line is `[outcome, messageId]`:

    ["delivered","ajs-next-1730419200000-5e93d1"]
    ["dead_lettered","ajs-next-1730419200001-0a1b2c"]

    open_checkpoint(DIR, {"destination": ..., "endpoint": ...})   # at start-up: manifest made or checked
    settled = load_settled(DIR)              # "ajs-..." in settled -> already settled, skip it
    recorder = SettledRecorder(DIR)          # per DoFn instance: record(), flush() per bundle, close()
    compact_settled(DIR)                     # at start-up (optional): many files (gs:// objects) -> one

The manifest says what the checkpoint was written for (never a key): using it for another
destination or endpoint raises CheckpointMismatch. Lines are written through
transforms.outputs.durable_append (on disk within a second, fsynced locally); a crash can tear only the
last line of a file, which load_settled ignores (the event is then sent again: at least once).

Memory: load_settled keeps a 64-bit blake2b hash per distinct messageId in a sorted
array('q'): 8 bytes per settled event (10M events: 80 MB; while loading up to about twice that).
Two different messageIds share a hash with probability 2**-64, so the chance that any of m
unsettled events is taken for one of n settled ones is at most n*m / 2**64: for a 10M-event
backfill resumed half way (5M settled, 5M to go), 1.4e-6; such an event would be skipped
(counted already_settled) instead of sent.
"""
import bisect
import hashlib
import json
import os
import uuid
from array import array
from concurrent.futures import ThreadPoolExecutor

import orjson

from transforms.common import counters
from transforms.outputs.durable_append import DurableAppender, is_remote, join_path

MANIFEST = "checkpoint.json"
SETTLED_PREFIX = "settled"
VERSION = 1
OUTCOMES = (counters.DELIVERED, counters.DEAD_LETTERED)
_READ_THREADS = 16  # gs:// objects read at once by load_settled


class CheckpointMismatch(ValueError):
    """The directory is not a checkpoint of this job (another destination or endpoint, or not a
    checkpoint at all); str() says why and that a new directory starts over."""


def open_checkpoint(directory: str, identity: dict) -> dict:
    """Makes DIR and its manifest if absent, else checks the manifest; returns the manifest.

        open_checkpoint("out/ckpt", {"destination": "gainsight", "endpoint": "https://event.gainsight.com"})
        -> {"destination": "gainsight", "endpoint": "https://event.gainsight.com", "version": 1}
        open_checkpoint("out/ckpt", {"destination": "gainsight", "endpoint": "https://other.example"})
        -> CheckpointMismatch("out/ckpt was written for destination gainsight at endpoint
           https://event.gainsight.com; use a new directory to start over")

    A local directory that exists, holds files and no manifest is refused too (a typo must not
    turn a directory of other things into a checkpoint).
    """
    wanted = {**identity, "version": VERSION}
    manifest_path = join_path(directory, MANIFEST)
    found = _read_manifest(directory, manifest_path)
    if found is None:
        _write_manifest(directory, manifest_path, wanted)
        return wanted
    if found != wanted:
        raise CheckpointMismatch(
            f"{directory} was written for destination {found.get('destination')} at endpoint "
            f"{found.get('endpoint')}" + (f" (version {found.get('version')})"
                                          if found.get("version") != VERSION else "")
            + "; use a new directory to start over")
    return found


def _read_manifest(directory: str, manifest_path: str) -> dict | None:
    if is_remote(directory):
        from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
        if not FileSystems.exists(manifest_path):
            return None
        with FileSystems.open(manifest_path) as stream:
            text = stream.read()
    else:
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise CheckpointMismatch(f"{directory} is a file, not a directory")
        if not os.path.exists(manifest_path):
            if os.path.isdir(directory) and _visible_entries(directory):
                raise CheckpointMismatch(f"{directory} is not empty and holds no {MANIFEST}: give "
                                         "a new (or empty) directory for a new checkpoint")
            return None
        with open(manifest_path, "rb") as stream:
            text = stream.read()
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        raise CheckpointMismatch(f"{manifest_path} is not a checkpoint manifest; use a new "
                                 "directory to start over")
    return manifest


def _visible_entries(directory: str) -> list[str]:
    return [name for name in os.listdir(directory) if not name.startswith(".")]


def _write_manifest(directory: str, manifest_path: str, manifest: dict):
    data = (json.dumps(manifest, sort_keys=True) + "\n").encode("utf-8")
    if is_remote(directory):
        from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
        with FileSystems.create(manifest_path, mime_type="application/json") as out:
            out.write(data)
        return
    os.makedirs(directory, exist_ok=True)
    temporary = manifest_path + ".tmp"
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, manifest_path)


def settled_line(message_id: str, outcome: str) -> str:
    """One checkpoint line.

    >>> settled_line("ajs-1", "delivered")
    '["delivered","ajs-1"]'
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    return orjson.dumps([outcome, message_id]).decode("utf-8")


def message_hash(message_id: str) -> int:
    """The 64-bit (signed) blake2b hash SettledIds keeps for a messageId."""
    return int.from_bytes(hashlib.blake2b(message_id.encode("utf-8"), digest_size=8).digest(),
                          "little", signed=True)


class SettledIds:
    """A compact membership set of messageIds (8 bytes each; see the module's note on collisions).

    >>> settled = SettledIds.from_ids(["a", "b", "a"])
    >>> "a" in settled, "c" in settled, len(settled)
    (True, False, 2)
    """

    def __init__(self, hashes: array, skipped_lines: int = 0):
        self._hashes = _sorted_unique(hashes)
        self.skipped_lines = skipped_lines  # torn or unreadable lines that were ignored

    @classmethod
    def from_ids(cls, message_ids) -> "SettledIds":
        return cls(array("q", (message_hash(message_id) for message_id in message_ids)))

    def __contains__(self, message_id: str) -> bool:
        value = message_hash(message_id)
        hashes = self._hashes
        index = bisect.bisect_left(hashes, value)
        return index < len(hashes) and hashes[index] == value

    def __len__(self) -> int:
        return len(self._hashes)

    def nbytes(self) -> int:
        """Memory held by the hashes."""
        return self._hashes.buffer_info()[1] * self._hashes.itemsize


def _sorted_unique(hashes: array) -> array:
    """Sorts `hashes` in place (numpy over the same buffer) and drops repeated values."""
    import numpy  # pylint: disable=import-outside-toplevel
    if not hashes:
        return hashes
    view = numpy.frombuffer(hashes, dtype=numpy.int64)
    view.sort()
    repeats = int(numpy.count_nonzero(view[1:] == view[:-1]))
    if repeats:
        keep = numpy.empty(len(view), dtype=bool)
        keep[0] = True
        numpy.not_equal(view[1:], view[:-1], out=keep[1:])
        unique = view[keep]
        del view
        return array("q", unique.tobytes())
    del view  # release the buffer export
    return hashes


def settled_paths(directory: str) -> list[str]:
    """The settled-*.jsonl files (objects) of a checkpoint directory, sorted."""
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    pattern = join_path(directory, f"{SETTLED_PREFIX}-*.jsonl")
    if not is_remote(directory) and not os.path.isdir(directory):
        return []
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _open_binary(path: str):
    if not is_remote(path):
        return open(path, "rb")  # pylint: disable=consider-using-with
    from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=import-outside-toplevel
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def hashes_of_file(path: str, hashes: array | None = None) -> tuple[array, int]:
    """(hashes of the messageIds recorded in one settled file, appended to `hashes` if given;
    lines ignored), read line by line: a torn last line (no newline) and lines that are not
    `[outcome, messageId]` are ignored."""
    hashes, skipped = array("q") if hashes is None else hashes, 0
    with _open_binary(path) as stream:
        for line in stream:
            if not line.endswith(b"\n"):
                skipped += 1  # torn: the writer crashed mid-line
                continue
            try:
                _, message_id = orjson.loads(line)
                hashes.append(message_hash(message_id))
            except (ValueError, TypeError, AttributeError):
                skipped += 1
    return hashes, skipped


def load_settled(directory: str) -> SettledIds:
    """Every messageId recorded in the checkpoint (any outcome); torn or unreadable lines ignored.
    A directory without settled files gives an empty set. gs:// objects are read 16 at a time."""
    paths = settled_paths(directory)
    hashes, skipped = array("q"), 0
    if not is_remote(directory):  # one file per recorder, possibly large: straight into `hashes`
        for path in paths:
            skipped += hashes_of_file(path, hashes)[1]
        return SettledIds(hashes, skipped)
    with ThreadPoolExecutor(max_workers=_READ_THREADS) as pool:  # many small objects
        for object_hashes, object_skipped in pool.map(hashes_of_file, paths):
            hashes.extend(object_hashes)
            skipped += object_skipped
    return SettledIds(hashes, skipped)


def compact_settled(directory: str, min_files: int = 2) -> int:
    """Merges the checkpoint's settled files into one new file and deletes the merged ones;
    returns how many were merged (0 when fewer than `min_files`). Their complete lines are kept
    as they are; torn and unreadable ones are left out.

    On gs:// a long backfill leaves up to one object per second per writer, and load_settled
    reads each; compacting at start-up keeps that from growing across resumes. The merged file
    is written before anything is deleted, and only the files it holds are deleted (a crash in
    between leaves ids twice, which count once). Call it before this run's recorders start: on
    gs:// it is safe even while another job still writes (objects never change once written),
    but a local file still appended to by another process would lose what is written after.
    """
    paths = settled_paths(directory)
    if len(paths) < min_files:
        return 0
    target = join_path(directory, f"{SETTLED_PREFIX}-{uuid.uuid4().hex[:12]}-compacted.jsonl")
    with _create_binary(target) as out:
        for path in paths:
            with _open_binary(path) as stream:
                for line in stream:
                    if line.endswith(b"\n") and _is_record(line):
                        out.write(line)
    _delete(paths)
    return len(paths)


def _is_record(line: bytes) -> bool:
    try:
        outcome, message_id = orjson.loads(line)
    except (ValueError, TypeError):
        return False
    return outcome in OUTCOMES and isinstance(message_id, str)


class _LocalAtomicFile:
    """A local file written under a temporary name and renamed (fsynced) when closed."""

    def __init__(self, path: str):
        self._path = path
        self._temporary = path + ".tmp"
        self._file = open(self._temporary, "wb")  # pylint: disable=consider-using-with

    def write(self, data: bytes):
        self._file.write(data)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if exc_type is None:
            os.replace(self._temporary, self._path)
        else:
            os.unlink(self._temporary)


def _create_binary(path: str):
    if not is_remote(path):
        return _LocalAtomicFile(path)
    from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=import-outside-toplevel
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    return FileSystems.create(path, mime_type="application/x-ndjson",
                              compression_type=CompressionTypes.UNCOMPRESSED)


def _delete(paths: list[str]):
    if paths and not is_remote(paths[0]):
        for path in paths:
            os.unlink(path)
        return
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    for start in range(0, len(paths), 1000):
        FileSystems.delete(paths[start:start + 1000])


class SettledRecorder:
    """Records settled events in a checkpoint directory, through a file of its own; thread-safe.

        recorder = SettledRecorder("out/ckpt")
        recorder.record("ajs-1", "delivered")      # from any thread of the sink's pool
        recorder.flush()                           # end of every bundle
        recorder.close()                           # teardown

    Each line is on disk within `flush_seconds` of record() (and when flush() returns).
    `before_write` (the dead-letter writer's flush) runs before each write, so an event recorded
    as dead-lettered always has its dead-letter record on disk first.
    """

    def __init__(self, directory: str, flush_seconds: float | None = None, before_write=None):
        kwargs = {} if flush_seconds is None else {"flush_seconds": flush_seconds}
        self._appender = DurableAppender(join_path(directory, SETTLED_PREFIX), ".jsonl",
                                         before_write=before_write, **kwargs)

    def record(self, message_id: str, outcome: str) -> None:
        self._appender.append(settled_line(message_id, outcome))

    def record_many(self, settled) -> None:
        """(messageId, outcome) pairs, in one go."""
        self._appender.append_many(settled_line(message_id, outcome) for message_id, outcome in settled)

    def flush(self) -> None:
        self._appender.flush()

    def close(self) -> None:
        self._appender.close()

    @property
    def paths(self) -> list[str]:
        return list(self._appender.paths)
