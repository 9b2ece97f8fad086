"""gs:// end to end: the real CLI reading its input from, and writing dead letters, the
checkpoint and the summary to, a local Cloud Storage (gcp-storage-emulator over loopback)."""
import gzip
import json
import os
import subprocess
import sys

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT
from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (fixtures)


def write_object(path: str, data: bytes):
    """The bytes as they are (FileSystems would gzip a .gz path's data once more)."""
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as out:
        out.write(data)


def read_lines(pattern: str) -> list:
    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    lines = []
    for path in sorted(paths):
        with FileSystems.open(path) as stream:
            lines += [json.loads(line) for line in stream.read().decode().splitlines() if line.strip()]
    return lines


def run_job(bucket, sandbox, emulator, out):
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    env.update(GAINSIGHT_ACCESS_KEY=ACCESS_KEY, STORAGE_EMULATOR_HOST=emulator)
    argv = [sys.executable, "-m", "pipeline", "--input", f"{bucket}/segment-logs/src/",
            "--gainsight_endpoint", sandbox.url, "--no_auth",
            "--dead_letter", f"{bucket}/{out}/dl/", "--checkpoint", f"{bucket}/ckpt/",
            "--summary", f"{bucket}/{out}/"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_backfill_on_gcs_reads_writes_and_resumes_there(gcs_bucket, gcs_emulator, start_sandbox):  # noqa: F811
    sandbox = start_sandbox(rate_400=0.1, seed=2)
    events = [{"type": "track", "userId": f"u{n % 5}", "messageId": f"g-{n}", "event": "Signed Up"}
              for n in range(60)]
    lines = [json.dumps(e) for e in events] + ['{"type": "track", "broken": ']
    write_object(f"{gcs_bucket}/segment-logs/src/1730505600000/part-1.gz",
                 gzip.compress(("\n".join(lines) + "\n").encode()))
    first = run_job(gcs_bucket, sandbox, gcs_emulator, "first")
    assert first.returncode == 0, first.stderr
    summary = json.loads(FileSystems.open(f"{gcs_bucket}/first/summary.json").read())
    received = {m["messageId"] for m in sandbox.received()}
    dead = read_lines(f"{gcs_bucket}/first/dl/dead-letter-*.jsonl")
    undelivered = {r["event"]["messageId"] for r in dead if r["stage"] == "deliver"}
    assert received | undelivered == {e["messageId"] for e in events} and not received & undelivered
    assert [r["raw"] for r in dead if r["stage"] == "parse"] == ['{"type": "track", "broken": ']
    assert summary["delivered"] == len(received) and summary["balanced"]
    assert FileSystems.match([f"{gcs_bucket}/ckpt/settled-*.jsonl"])[0].metadata_list
    second = run_job(gcs_bucket, sandbox, gcs_emulator, "second")        # the same backfill again
    assert second.returncode == 0, second.stderr
    again = json.loads(FileSystems.open(f"{gcs_bucket}/second/summary.json").read())
    assert (again["already_settled"], again["delivered"], again["dead_lettered"]) == (len(events), 0, 0)
    assert len(sandbox.received()) == len(received)                          # nothing sent twice


def test_a_local_backfill_previews_to_gcs(gcs_bucket, gcs_emulator, tmp_path):  # noqa: F811
    """A local run writes the preview as files of its own (no WriteToText): on gs:// too."""
    events = [{"type": "track", "userId": f"u{n % 3}", "messageId": f"p-{n}", "event": "Signed Up"}
              for n in range(25)]
    write_object(f"{gcs_bucket}/segment-logs/pv/1730505600000/part-1.gz",
                 gzip.compress(("\n".join(json.dumps(e) for e in events) + "\n").encode()))
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    env.update(STORAGE_EMULATOR_HOST=gcs_emulator)
    done = subprocess.run([sys.executable, "-m", "pipeline", "--input", f"{gcs_bucket}/segment-logs/pv/",
                           "--no_auth", "--preview", f"{gcs_bucket}/pv-out/", "--dead_letter",
                           str(tmp_path / "dl")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = read_lines(f"{gcs_bucket}/pv-out/preview-*.jsonl")
    assert sorted(line["body"]["messageId"] for line in lines) == sorted(e["messageId"] for e in events)
    assert all(line["url"].endswith("/clickstream/segmentio/event") for line in lines)
    assert not os.path.exists(os.path.join(ROOT, "gs:"))
