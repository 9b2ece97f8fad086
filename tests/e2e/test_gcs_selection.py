"""--destination_filters and --transform read from gs://, and --from/--to leaving a gs:// day folder
unread: the real CLI against a local Cloud Storage (gcp-storage-emulator over loopback)."""
import gzip
import json
import os
import subprocess
import sys

from apache_beam.io.filesystems import FileSystems

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT
from tests.e2e.test_gcs import write_object
from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (fixtures)

FILTERS = [{"title": "No test events", "if": "match( event, 'Test *' )", "actions": [{"type": "DROP"}]}]
TRANSFORM = "def tag(event):\n    event.setdefault('properties', {})['tagged'] = True\n    return event\n"


def test_filters_transform_and_window_from_gcs(gcs_bucket, gcs_emulator, sandbox):  # noqa: F811
    write_object(f"{gcs_bucket}/conf/filters.json", json.dumps(FILTERS).encode())
    write_object(f"{gcs_bucket}/conf/tag.py", TRANSFORM.encode())
    events = [{"type": "track", "userId": "u1", "messageId": "keep", "event": "Signed Up",
               "timestamp": "2024-11-02T10:00:00Z"},
              {"type": "track", "userId": "u1", "messageId": "test", "event": "Test Signed Up",
               "timestamp": "2024-11-02T10:01:00Z"}]
    write_object(f"{gcs_bucket}/segment-logs/src/1730505600000/part-1.gz",        # 2024-11-02
                 gzip.compress("\n".join(json.dumps(e) for e in events).encode()))
    write_object(f"{gcs_bucket}/segment-logs/src/1730419200000/part-1.gz", b"not gzip")   # 2024-11-01: unread
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    env.update(GAINSIGHT_ACCESS_KEY=ACCESS_KEY, STORAGE_EMULATOR_HOST=gcs_emulator)
    argv = [sys.executable, "-m", "pipeline", "--input", f"{gcs_bucket}/segment-logs/src/",
            "--gainsight_endpoint", sandbox.url, "--no_auth",
            "--destination_filters", f"{gcs_bucket}/conf/filters.json", "--transform", f"{gcs_bucket}/conf/tag.py:tag",
            "--from", "2024-11-02", "--to", "2024-11-03",
            "--dead_letter", f"{gcs_bucket}/out/dl/", "--summary", f"{gcs_bucket}/out/"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sandbox.received() == [{**events[0], "properties": {"tagged": True}}]
    summary = json.loads(FileSystems.open(f"{gcs_bucket}/out/summary.json").read())
    assert (summary["read"], summary["unreadable_files"], summary["dropped_by_filter"], summary["delivered"]) == (2, 0, 1, 1)
    assert summary["dropped_by_filter_by_title"] == {"No test events": 1} and summary["balanced"]
