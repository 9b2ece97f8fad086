"""--destination gainsight-api killed mid-batch with SIGKILL and run again with the same
--checkpoint: the real CLI against the sandbox's gainsight-api mode. Event rows are inserts, so
each one written before the kill must not be written again, but for the calls that answered in
the checkpoint's last second or were on the wire; the People upsert is written once more at most."""
import gzip
import json
import signal
import sys
from collections import Counter

from tests.e2e.test_gainsight_api import API_KEY, api_sandbox
from tests.e2e.test_resume import kill_when, run_to_end
from transforms.outputs.durable_append import FLUSH_SECONDS

TRACKS = 1500
CALLS_PER_SECOND = 2
ROWS_PER_CALL = 50
# rows of the calls answered in the checkpoint's last unflushed second, plus the call on the wire
RESENT_BOUND = (CALLS_PER_SECOND * (FLUSH_SECONDS + 1) + 1) * ROWS_PER_CALL


def export(path):
    """One identify and TRACKS tracks of one user, in one gzipped file; their messageIds."""
    events = [{"type": "identify", "userId": "u1", "messageId": "i-1", "timestamp": "2024-11-01T09:00:00Z",
               "traits": {"email": "ann@hooli.example", "firstName": "Ann"}}]
    events += [{"type": "track", "userId": "u1", "messageId": f"t-{n:04d}", "event": "Feature Used",
                "timestamp": f"2024-11-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z"} for n in range(TRACKS)]
    with gzip.open(path, "wt") as out:
        out.write("".join(json.dumps(event) + "\n" for event in events))
    return [event["messageId"] for event in events]


def command(source, sandbox, out, checkpoint):
    return [sys.executable, "-m", "pipeline", "--input", str(source), "--destination", "gainsight-api",
            "--gainsight_domain", sandbox.url, "--event_object", "SegmentEvent__gc",
            "--track_whitelist", "Feature Used", "--checkpoint", str(checkpoint),
            "--dead_letter", f"{out}/dl/", "--summary", f"{out}/",
            "--max_requests_per_minute", str(CALLS_PER_SECOND * 60)]


def rows_written(sandbox) -> Counter:
    return Counter(row["MessageId__gc"] for row in sandbox.records()["objects"]["SegmentEvent__gc"])


def test_sigkill_mid_batch_then_the_same_command_writes_each_row_once_but_for_the_last_second(tmp_path):
    source, checkpoint = tmp_path / "events.gz", tmp_path / "checkpoint"
    due = export(source)
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        code, _, stderr = kill_when(command(source, sandbox, tmp_path / "first", checkpoint),
                                    lambda: sum(rows_written(sandbox).values()) >= 600, signal.SIGKILL,
                                    key=API_KEY)
        assert code == -signal.SIGKILL, stderr
        before = rows_written(sandbox)
        assert sum(before.values()) < TRACKS - RESENT_BOUND, "killed too late to prove anything"
        code, stdout, stderr = run_to_end(command(source, sandbox, tmp_path / "second", checkpoint),
                                          key=API_KEY)
        assert code == 0, stderr
        rows = rows_written(sandbox)
        (person,) = sandbox.records()["people"]
    assert sorted(rows) == due[1:]                                   # every track has its row
    resent = sum(count - 1 for count in rows.values())
    assert resent <= RESENT_BOUND, f"{resent} rows written twice"
    assert (person["Email"], person["FirstName"]) == ("ann@hooli.example", "Ann")
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["balanced"] and summary["dead_lettered"] == 0
    assert summary["already_settled"] >= sum(before.values()) - RESENT_BOUND
    assert summary["delivered"] + summary["already_settled"] == len(due)
    assert API_KEY not in stdout + stderr
