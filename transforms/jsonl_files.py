"""WriteJsonLines: text lines -> PREFIX-SSSSS-of-NNNNN.jsonl files (local or gs://), batch only.

WriteToText does Beam work for every record it writes (a window assignment, a call into the
sink), about 4 µs each on the local runner. So the lines of a bundle are first joined into
blocks of up to BLOCK_LINES, and WriteToText writes each block as one record; its newline after
a record ends the block's last line, so the files read exactly as if written line by line.
"""
import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

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


class WriteJsonLines(beam.PTransform):
    """Lines (str, one JSON document each, no newline inside) -> JSONL files at `prefix`.
    `joined`: the input is blocks of lines already (LineBlocks, in the step that makes them)."""

    def __init__(self, prefix: str, block_lines: int = BLOCK_LINES, joined: bool = False):
        super().__init__()
        self._joined = joined
        self._prefix = prefix
        self._block_lines = block_lines

    def expand(self, lines):
        if not isinstance(lines.windowing.windowfn, GlobalWindows):
            raise ValueError(f"WriteJsonLines writes the global window (batch), not {lines.windowing.windowfn}")
        blocks = lines if self._joined else lines | "JoinLines" >> beam.ParDo(
            JoinLinesFn(self._block_lines))
        return blocks | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
