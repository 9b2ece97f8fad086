"""DurableAppender: lines appended to files of one writer, on disk within a second, local or gs://.

    writer = DurableAppender("out/dl/dead-letter")       # or "gs://bucket/dl/dead-letter"
    writer.append('{"stage":"deliver","reason":"HTTP 400",...}')   # any thread
    writer.flush()     # at the end of every bundle: written (and fsynced, locally) when it returns
    writer.close()     # flushes, stops the timer thread

    local:  out/dl/dead-letter-3f9c2a1b0d4e.jsonl                     one file, appended to
    gs://:  gs://bucket/dl/dead-letter-3f9c2a1b0d4e-000001.jsonl     one new object per flush
            gs://bucket/dl/dead-letter-3f9c2a1b0d4e-000002.jsonl     (Cloud Storage has no append)

Every writer names its files with a fresh random id, so any number of writers (workers, DoFn
instances, runs) can share one prefix without coordinating. A daemon thread writes the pending
lines at most `flush_seconds` after the oldest of them was appended, so a process killed with
SIGKILL loses at most the last `flush_seconds` of lines. A local file is fsynced at every
flush; a local write can tear only the last line (a crash mid-write): readers of these files
ignore a last line without its newline (see transforms.outputs.checkpoint.hashes_of_file).

Plain Python; Beam's FileSystems is used only to create gs:// (and other remote) objects.
"""
import os
import threading
import time
import uuid

from transforms.common.paths import is_remote  # gs:// (any scheme://): one object per flush

FLUSH_SECONDS = 1.0


def join_path(directory: str, name: str) -> str:
    """'out/dl' + 'x' -> 'out/dl/x'; 'gs://b/dl/' + 'x' -> 'gs://b/dl/x'."""
    return directory.rstrip("/") + "/" + name if directory else name


class DurableAppender:
    """Appends lines (str, no newline inside) to this writer's own files at `prefix`; thread-safe.

    Lines are written by flush(), by close(), and by a daemon thread at most `flush_seconds`
    after the oldest pending line was appended. A failed write keeps its lines pending, in
    order, for the next attempt; flush() and close() raise when their own write fails, so a
    bundle that could not record its lines fails instead of pretending it did.
    """

    def __init__(self, prefix: str, suffix: str = ".jsonl", flush_seconds: float = FLUSH_SECONDS,
                 clock=time.monotonic, before_write=None):
        self.prefix = prefix
        self.suffix = suffix
        self._id = uuid.uuid4().hex[:12]
        self._flush_seconds = flush_seconds
        self._clock = clock
        # Called before each write: another appender's flush, so that what this one records
        # (a checkpoint line) is never on disk before what it refers to (a dead letter).
        self._before_write = before_write
        self._remote = is_remote(prefix)
        self._pending: list[str] = []
        self._oldest: float | None = None   # when the oldest pending line was appended
        self._lock = threading.Condition()  # guards _pending, _oldest, _closed
        self._write_lock = threading.Lock()  # one write at a time, in order
        self._closed = False
        self.last_error: BaseException | None = None  # of the timer thread's last failed write
        self._file = None                    # local: the open file, created on the first write
        self._objects = 0                    # remote: objects written so far
        self.paths: list[str] = []           # the files (objects) written so far
        self._thread = threading.Thread(target=self._flush_periodically, daemon=True,
                                        name=f"durable-append-{self._id}")
        self._thread.start()

    def append(self, line: str) -> None:
        """Queues one line; it is on disk within `flush_seconds` (or at the next flush())."""
        self.append_many((line,))

    def append_many(self, lines) -> None:
        lines = list(lines)
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"a line must not contain a line break: {line[:80]!r}")
        if not lines:
            return
        with self._lock:
            if self._closed:
                raise ValueError("append to a closed DurableAppender")
            if not self._pending:
                self._oldest = self._clock()
                self._lock.notify()
            self._pending.extend(lines)

    def flush(self) -> None:
        """Writes every line appended so far (raises OSError if that fails)."""
        self._write_pending()
        self.last_error = None  # an earlier failure of the timer's write: its lines are written now

    def close(self) -> None:
        """Flushes, stops the timer thread and closes the file; appending afterwards fails."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join()
        try:
            self.flush()
        finally:
            with self._write_lock:
                if self._file is not None:
                    self._file.close()
                    self._file = None

    def _flush_periodically(self):
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                due = self._oldest + self._flush_seconds - self._clock()
                if due > 0:
                    self._lock.wait(due)
                    continue  # re-check: a flush() may have written them meanwhile
            try:
                self._write_pending()
            except Exception as err:  # pylint: disable=broad-except
                self.last_error = err  # the lines stay pending: the next flush writes them
                time.sleep(min(self._flush_seconds, 1.0))

    def _write_pending(self):
        with self._write_lock:
            with self._lock:
                lines, self._pending, self._oldest = self._pending, [], None
            if not lines:
                return
            data = ("\n".join(lines) + "\n").encode("utf-8")
            try:
                if self._before_write is not None:
                    # After taking the lines: whatever they refer to was appended before them,
                    # so this flush writes it first.
                    self._before_write()
                if self._remote:
                    self._write_object(data)
                else:
                    self._write_local(data)
            except BaseException:
                with self._lock:  # keep them, in order, for the next attempt
                    self._pending[:0] = lines
                    self._oldest = self._clock()
                raise

    def _write_local(self, data: bytes):
        if self._file is None:
            path = f"{self.prefix}-{self._id}{self.suffix}"
            directory = os.path.dirname(path) or "."
            os.makedirs(directory, exist_ok=True)
            self._file = open(path, "ab")  # pylint: disable=consider-using-with
            self.paths.append(path)
            _fsync_directory(directory)  # the new name survives a crash too
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _write_object(self, data: bytes):
        from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=import-outside-toplevel
        from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
        path = f"{self.prefix}-{self._id}-{self._objects + 1:06d}{self.suffix}"
        with FileSystems.create(path, mime_type="application/x-ndjson",
                                compression_type=CompressionTypes.UNCOMPRESSED) as out:
            out.write(data)
        self._objects += 1
        self.paths.append(path)


def _fsync_directory(directory: str):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
