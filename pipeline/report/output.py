"""What the job's process gathers for the report at the end of a backfill, and where the page goes:

    text = build_page(summary, config, facts, tally, distribution)
    write_report(config.report, text)          # local (parents made) or gs://

`facts`: {"started": unix time, "flags": argv (keys already taken out), "runner": "...",
"exit_code": 0}; `tally`: transforms.common.report_tally's merged snapshot (None on Dataflow).
"""
import platform
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import pipeline
from pipeline.report.data import dead_letter_groups, report_data
from pipeline.report.page import render
from transforms.delivery import destinations
from transforms.delivery.http_delivery import redact, secret_forms


def build_page(summary: dict, config, facts: dict, tally: dict | None,
               distribution: dict | None = None) -> str:
    """The report's HTML for a finished run (pipeline.options.JobConfig `config`)."""
    secrets = key_forms(config)
    run = {
        "destination": config.destination,
        "endpoint": config.sink.url,
        "runner": facts.get("runner"),
        "flags": [redact(flag, secrets) for flag in facts.get("flags", [])],
        "started": facts.get("started"),
        "ended": facts.get("ended", time.time()),
        "exit_code": facts.get("exit_code"),
        "rate_cap": None if config.preview else config.sink.max_requests_per_second,
        "versions": versions(),
    }
    groups = dead_letter_groups(dead_letter_lines(config.dead_letter), secrets)
    return render(report_data(summary, run, tally, groups, distribution))


def key_forms(config) -> tuple:
    """Every form the run's key may take in a record (empty when the key is not known here)."""
    key = config.sink.access_key.reveal()
    if not key:
        return ()
    return secret_forms(key, destinations.get(config.destination).credential.headers(key))


def versions() -> dict:
    return {"segment-to-gainsight": pipeline.__version__, "apache-beam": beam.__version__,
            "python": platform.python_version()}


def dead_letter_lines(prefix: str):
    """Every line of the run's dead-letter files (PREFIX-*.jsonl, local or gs://)."""
    try:
        matched = FileSystems.match([f"{prefix}-*.jsonl"])[0].metadata_list
    except Exception:  # pylint: disable=broad-except  (none written: nothing to show)
        return
    for metadata in sorted(matched, key=lambda m: m.path):
        with FileSystems.open(metadata.path) as handle:
            for line in handle:
                yield line.decode("utf-8", "replace")


def write_report(path: str, text: str) -> None:
    """Writes the page to `path` (local, parent directories made, or gs://); raises OSError
    (or the filesystem's own error) when it cannot."""
    with FileSystems.create(path, mime_type="text/html") as out:
        out.write(text.encode("utf-8"))
