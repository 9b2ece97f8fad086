"""WriteJsonLines: text lines -> JSONL files at PREFIX (local or gs://), batch only.

    on a runner that may run a bundle again (Dataflow): PREFIX-SSSSS-of-NNNNN.jsonl (WriteToText,
                                                        which writes temporary files, then renames)
    on a local run (own_files):                       PREFIX-<writer id>.jsonl, one per bundle

WriteToText does Beam work for every record it writes (a window assignment, a call into the
sink), about 4 µs each on the local runner. So the lines of a bundle are first joined into
blocks of up to BLOCK_LINES, and WriteToText writes each block as one record; its newline after
a record ends the block's last line, so the files read exactly as if written line by line.

A local run does not run a bundle twice (a failed bundle fails the run), so it needs none of
WriteToText's temporary files, renames and their four extra stages: each bundle writes its
blocks to a file of its own (WriteOwnFileFn), named like the dead letters' files.
"""
import os
import uuid

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from transforms.common.paths import is_remote

_BUFFER = 1 << 20

BLOCK_LINES = 1000


def join_block(lines: list[str]) -> str:
    """['a', 'b'] -> 'a\\nb': one record that WriteToText ends with the last newline."""
    return "\n".join(lines)


class LineBlocks:
    """Collects lines; add() -> a joined block every `block_lines` lines, else None; drain() ->
    the rest as a block, or None.

    >>> blocks = LineBlocks(2)
    >>> blocks.add("a"), blocks.add("b"), blocks.add("c"), blocks.drain(), blocks.drain()
    (None, 'a\\nb', None, 'c', None)
    """

    def __init__(self, block_lines: int = BLOCK_LINES):
        self._block_lines = block_lines
        self._lines = []

    def add(self, line: str) -> str | None:
        self._lines.append(line)
        if len(self._lines) >= self._block_lines:
            return self.drain()
        return None

    def drain(self) -> str | None:
        if not self._lines:
            return None
        block, self._lines = join_block(self._lines), []
        return block


class JoinLinesFn(beam.DoFn):
    """line -> a block of up to `block_lines` lines, joined by newlines (the rest at bundle end)."""

    def __init__(self, block_lines: int = BLOCK_LINES):
        self._block_lines = block_lines

    def start_bundle(self):
        self._blocks = LineBlocks(self._block_lines)

    def process(self, line):
        block = self._blocks.add(line)
        if block is not None:
            yield block

    def finish_bundle(self):
        block = self._blocks.drain()
        if block is not None:
            yield GlobalWindows.windowed_value(block)


class WriteOwnFileFn(beam.DoFn):
    """Local runs: blocks of lines -> the bundle's own file PREFIX-<id>.jsonl (local or gs://),
    made at its first block (a bundle without lines writes no file); its path is the output."""

    def __init__(self, prefix: str):
        self._prefix = prefix

    def start_bundle(self):
        self._file = None

    def process(self, block: str):
        if self._file is None:
            self._path = f"{self._prefix}-{uuid.uuid4().hex[:12]}.jsonl"
            self._file = _create(self._path)
        self._file.write(block.encode("utf-8"))
        self._file.write(b"\n")

    def finish_bundle(self):
        if self._file is not None:
            self._file.close()
            self._file = None
            yield GlobalWindows.windowed_value(self._path)


def _create(path: str):
    """A new file for writing bytes: local (its directory made), or a gs:// object."""
    if is_remote(path):
        return FileSystems.create(path, mime_type="application/x-ndjson",
                                  compression_type=CompressionTypes.UNCOMPRESSED)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return open(path, "xb", buffering=_BUFFER)  # pylint: disable=consider-using-with


class WriteJsonLines(beam.PTransform):
    """Lines (str, one JSON document each, no newline inside) -> JSONL files at `prefix`.
    `joined`: the input is blocks of lines already (LineBlocks, in the step that makes them).
    `own_files`: a local run's files, one per bundle (WriteOwnFileFn), not WriteToText's."""

    def __init__(self, prefix: str, block_lines: int = BLOCK_LINES, joined: bool = False,
                 own_files: bool = False):
        super().__init__()
        self._joined = joined
        self._prefix = prefix
        self._block_lines = block_lines
        self._own_files = own_files

    def expand(self, lines):
        if not isinstance(lines.windowing.windowfn, GlobalWindows):
            raise ValueError(f"WriteJsonLines writes the global window (batch), not {lines.windowing.windowfn}")
        blocks = lines if self._joined else lines | "JoinLines" >> beam.ParDo(
            JoinLinesFn(self._block_lines))
        if self._own_files:
            return blocks | "WriteOwnFiles" >> beam.ParDo(WriteOwnFileFn(self._prefix))
        return blocks | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
