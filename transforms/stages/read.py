"""Read Segment events: from files (batch) or from Pub/Sub (streaming).

Files: newline-delimited JSON, `.gz` decompressed, local or gs://. Each non-blank line becomes
`((path, line_number), raw_bytes)`; a file that cannot be opened or is damaged part-way
(truncated or corrupt gzip) keeps the lines read before the damage and adds one dead-letter
record naming the file and the reason.

Pub/Sub: Segment's Pub/Sub destination publishes each event as the message data, with no
attributes; each message becomes `((subscription or topic, 0), data)`.
"""
import gzip
import io
import zlib

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.common import counters, tags
from transforms.outputs.dead_letter import dead_letter_record
from transforms.stages.parse import MAX_EVENT_BYTES
from transforms.common.paths import is_visible
from transforms.common.stopping import stop_requested

# Longest prefix of a line kept in memory: enough for the parser to reject an oversize event.
MAX_LINE_HEAD = MAX_EVENT_BYTES + 1
_READ_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def open_events_file(path: str):
    """A binary stream of the file's decompressed bytes (gzip chosen by the `.gz` extension)."""
    stream = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream if isinstance(stream, io.BufferedIOBase) else io.BufferedReader(stream)


def iter_lines(stream, max_line: int = MAX_LINE_HEAD):
    """(line_number, line) for each line of a binary stream, without `\\n` / `\\r\\n`.

    A line longer than `max_line` bytes yields only its first `max_line` bytes; the rest is
    skipped without being held in memory.
    """
    line_number = 0
    while True:
        line = stream.readline(max_line)
        if not line:
            return
        line_number += 1
        if len(line) == max_line and not line.endswith(b"\n"):
            _skip_to_next_line(stream, max_line)
        yield line_number, line.rstrip(b"\r\n")


def is_blank(line: bytes) -> bool:
    """Nothing but ASCII whitespace (what bytes.strip() removes), without copying the line.

    >>> is_blank(b""), is_blank(b" \t"), is_blank(b" x ")
    (True, True, False)
    """
    return not line or line.isspace()


def _skip_to_next_line(stream, chunk: int):
    while True:
        rest = stream.readline(chunk)
        if not rest or rest.endswith(b"\n"):
            return


def stream_position(stream) -> int:
    """Bytes of the file read so far: for a .gz, of the compressed file under the decompressor."""
    return (getattr(stream, "fileobj", None) or stream).tell()


def read_lines(path: str, count, position_every: int = 1000):
    """A file's path -> ((path, line_number), bytes) per non-blank line, counting read and
    blank_lines; if the file is unreadable or damaged part-way, then one dead-letter record (a
    dict) naming it, after the lines read before the damage (counted unreadable_files).
    Once a stop is requested (transforms.common.stopping: SIGTERM or Ctrl-C of a local run) it reads
    no further line and counts nothing more, so the summary balances over what was read.
    Counts bytes_read (the file's own bytes, compressed for .gz) every `position_every` lines
    and at the end, for the progress line's share of the input read.
    ReadLinesFn's rule; the batch fusion (transforms.stages.prepare) reads files with it too.
    """
    last_line = read = 0
    if stop_requested():
        return
    position = _Position()
    try:
        with open_events_file(path) as stream:
            for last_line, line in iter_lines(stream):
                if stop_requested():
                    break
                if last_line % position_every == 0:
                    count(counters.BYTES_READ, position.advance(stream))
                    count(counters.READ, read)   # counted in bulk: one call per event is dear
                    read = 0
                if is_blank(line):
                    count(counters.BLANK_LINES)
                else:
                    read += 1
                    yield (path, last_line), line
            count(counters.BYTES_READ, position.advance(stream))
    except _READ_ERRORS as err:
        count(counters.UNREADABLE_FILES)
        yield dead_letter_record(
            "read", f"file unreadable after line {last_line}: {type(err).__name__}: {err}",
            source=path)
    finally:
        if read:
            count(counters.READ, read)


class ReadLinesFn(counters.CountingDoFn):
    """File path -> ((path, line_number), bytes) per non-blank line; damage -> DEAD_LETTER
    (read_lines)."""

    POSITION_EVERY = 1000

    def process(self, path):
        for item in read_lines(path, self.count, self.POSITION_EVERY):
            yield item if type(item) is tuple else beam.pvalue.TaggedOutput(tags.DEAD_LETTER, item)


class _Position:
    """The stream position counted so far; advance() -> bytes since the last call (0 if unknown)."""

    def __init__(self):
        self.counted = 0

    def advance(self, stream) -> int:
        try:
            now = stream_position(stream)
        except (OSError, ValueError, AttributeError):
            return 0
        delta, self.counted = max(now - self.counted, 0), max(now, self.counted)
        return delta


class MatchSegmentFiles(beam.PTransform):
    """Glob patterns -> the paths of the files to read, spread over the workers.

    A `DIR/**` pattern (transforms.common.paths.input_pattern of a directory) reads every file below
    DIR except hidden ones. With `window` (--from / --to: transforms.stages.window.Window), the
    files of Segment's day folders wholly outside it are left out (Window.reads_folder).
    """

    def __init__(self, patterns, window=None):
        super().__init__()
        self._patterns = list(patterns)
        self._window = window

    def expand(self, pbegin):
        return (pbegin
                | "Patterns" >> beam.Create(self._patterns)
                # A pattern that matches nothing fails the job instead of reading nothing.
                | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
                | "Paths" >> beam.FlatMap(lambda metadata, patterns=tuple(self._patterns), window=self._window: (
                    [metadata.path] if to_read(metadata.path, patterns, window) else []))
                | "SpreadFiles" >> beam.Reshuffle())


def to_read(path: str, patterns, window=None) -> bool:
    """A matched file is read: it is visible (transforms.common.paths.is_visible) and, with a
    window, its day folder is not wholly outside it."""
    return is_visible(path, patterns) and (window is None or window.reads_folder(path))


class ReadSegmentFiles(beam.PTransform):
    """Glob patterns -> {MAIN: ((path, line_number), bytes), DEAD_LETTER: records}
    (MatchSegmentFiles, then read_lines per file)."""

    def __init__(self, patterns, window=None):
        super().__init__()
        self._patterns = list(patterns)
        self._window = window

    def expand(self, pbegin):
        results = (pbegin
                   | "Files" >> MatchSegmentFiles(self._patterns, self._window)
                   | "Lines" >> beam.ParDo(ReadLinesFn()).with_outputs(
                       tags.DEAD_LETTER, main=tags.MAIN))
        return {tags.MAIN: results[tags.MAIN], tags.DEAD_LETTER: results[tags.DEAD_LETTER]}


class MessageToLineFn(counters.CountingDoFn):
    """Pub/Sub message data -> ((source, 0), bytes); empty messages are counted as blank."""

    def __init__(self, source: str):
        self._source = source

    def process(self, data):
        line = data.rstrip(b"\r\n")
        if not is_blank(line):
            self.count(counters.READ)
            yield (self._source, 0), line
        else:
            self.count(counters.BLANK_LINES)


class ReadPubSubEvents(beam.PTransform):
    """A Pub/Sub subscription or topic -> {MAIN: ((source, 0), bytes), DEAD_LETTER: (none)}."""

    def __init__(self, subscription: str | None = None, topic: str | None = None):
        super().__init__()
        self._subscription = subscription
        self._topic = topic

    def expand(self, pbegin):
        results = (pbegin
                   | "ReadFromPubSub" >> beam.io.ReadFromPubSub(
                       subscription=self._subscription, topic=self._topic)
                   | "Lines" >> beam.ParDo(MessageToLineFn(self._subscription or self._topic))
                   .with_outputs(tags.DEAD_LETTER, main=tags.MAIN))
        return {tags.MAIN: results[tags.MAIN], tags.DEAD_LETTER: results[tags.DEAD_LETTER]}
