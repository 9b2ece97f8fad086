"""Dead-letter records: one JSON line per event (or file) that could not be delivered, with why.

>>> record = dead_letter_record("parse", "malformed JSON", raw=b'{"type":', failed_at="2026-01-01T00:00:00Z")
>>> record["raw"], record["status"], record["attempts"]
('{"type":', None, 0)

A record wraps the parsed `event` when there is one, else the `raw` line (base64 when it is not
UTF-8, with `raw_encoding: "base64"`). Feeding dead-letter files back through `--input` replays the
events they wrap (see transforms.stages.parse.unwrap_dead_letter).
"""
import base64
import posixpath
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.transforms import window

from transforms.outputs.durable_append import DurableAppender
from transforms.common.jsonio import dumps_compact


def utc_now_iso() -> str:
    """The current time as ISO-8601 UTC with milliseconds: 2026-11-28T12:00:00.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dead_letter_record(stage: str, reason: str, *, event: dict | None = None,
                       raw: bytes | str | None = None, status: int | None = None,
                       attempts: int = 0, source: str | None = None,
                       failed_at: str | None = None) -> dict:
    """{"stage", "reason", "status", "attempts", "failed_at", "event" | "raw"[, "raw_encoding"], "source"}."""
    record = {"stage": stage, "reason": reason, "status": status, "attempts": attempts,
              "failed_at": failed_at or utc_now_iso()}
    if event is not None:
        record["event"] = event
    elif raw is not None:
        record.update(raw_fields(raw))
    if source is not None:
        record["source"] = source
    return record


def raw_fields(raw: bytes | str) -> dict:
    """{"raw": text} for UTF-8 (or str) input, else {"raw": base64, "raw_encoding": "base64"}."""
    if isinstance(raw, str):
        return {"raw": raw}
    try:
        return {"raw": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw": base64.b64encode(raw).decode("ascii"), "raw_encoding": "base64"}


def raw_bytes(record: dict) -> bytes:
    """The original line of a record made by raw_fields (inverse of raw_fields)."""
    if record.get("raw_encoding") == "base64":
        return base64.b64decode(record["raw"])
    return record["raw"].encode("utf-8")


class AppendDeadLettersFn(beam.DoFn):
    """Dead-letter dict -> one line appended to this instance's own PREFIX-<id>.jsonl, on disk
    within a second of the record's arrival (transforms.outputs.durable_append), flushed at every
    bundle's end; so a crash, even SIGKILL, loses none of the records produced before it."""

    def __init__(self, prefix: str):
        self._prefix = prefix

    def setup(self):
        self._writer = None  # made on the first record: a run without failures writes no file

    def process(self, record):
        if self._writer is None:
            self._writer = DurableAppender(self._prefix)
        self._writer.append(dumps_compact(record))

    def finish_bundle(self):
        if self._writer is not None:
            self._writer.flush()

    def teardown(self):
        if self._writer is not None:
            self._writer.close()


class WriteDeadLetters(beam.PTransform):
    """Dead-letter dicts -> JSONL files (local or gs://).

    Batch: written as they come, `PREFIX-<writer id>.jsonl` per writer (on gs://, one object per
    flush: `PREFIX-<writer id>-<n>.jsonl`). Given a dict of PCollections ({"Read": ..., "Parse":
    ..., "Deliver": ...}), each gets its own writer step (`Append<name>`), fused into the stage that
    produces its records: a Flatten before the writer would hold them until that stage ends.
    Streaming: one set of files per `window_minutes` window, named
    `PREFIX-<window start>-<window end>-<pane>-SSSSS-of-NNNNN.jsonl`.
    """

    def __init__(self, prefix: str, streaming: bool = False, window_minutes: float = 5.0):
        super().__init__()
        self._prefix = prefix
        self._streaming = streaming
        self._window_seconds = window_minutes * 60

    def expand(self, records):
        if not self._streaming:
            sources = records if isinstance(records, dict) else {"": records}
            return {name: pcoll | f"Append{name}" >> beam.ParDo(AppendDeadLettersFn(self._prefix))
                    for name, pcoll in sources.items()}
        if isinstance(records, dict):
            records = tuple(records.values()) | "AllFailures" >> beam.Flatten()
        lines = records | "ToJson" >> beam.Map(dumps_compact)
        directory, name = posixpath.split(self._prefix)
        return (lines
                | "Window" >> beam.WindowInto(window.FixedWindows(self._window_seconds))
                | "WriteWindowed" >> fileio.WriteToFiles(
                    path=directory or ".", shards=1,
                    file_naming=fileio.default_file_naming(prefix=name, suffix=".jsonl")))


class PublishDeadLetters(beam.PTransform):
    """Dead-letter dicts -> one Pub/Sub message each (the JSON record as data) on a topic."""

    def __init__(self, topic: str):
        super().__init__()
        self._topic = topic

    def expand(self, records):
        return (records
                | "ToJsonBytes" >> beam.Map(lambda record: dumps_compact(record).encode("utf-8"))
                | "WriteToPubSub" >> beam.io.WriteToPubSub(self._topic))
