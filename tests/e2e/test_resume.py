"""A backfill killed and run again with the same --checkpoint: the real CLI against the sandbox,
SIGKILL (and SIGTERM) at several points, then the same command to the end; per messageId."""
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT, read_jsonl
from tests.e2e.test_guarantees import sendable_events

WAIT_SECONDS = 180
RATE = 100
CONCURRENCY = 4
RESENT_BOUND = CONCURRENCY + RATE * 1   # in flight, plus settled in the last second


def export(path, count=1000, seed=3):
    """count unique sendable events, copies of some, tracks off the whitelist, malformed lines.
    Returns (the messageIds due, the malformed lines)."""
    lines, due = [], []
    for n, event in enumerate(sendable_events(count, seed)):
        lines.append(json.dumps(event))
        due.append(event["messageId"])
        if n % 50 == 0:
            lines.append(json.dumps(event))                                      # a copy
        if n % 40 == 0:
            lines.append(json.dumps({"type": "track", "userId": "x", "messageId": f"f-{n}",
                                     "event": "Not Listed"}))                   # filtered
    malformed = [f'{{"type": "track", "broken": {n}' for n in range(7)]
    lines[100:100] = malformed
    with gzip.open(path, "wt") as out:
        out.write("\n".join(lines) + "\n")
    return due, malformed


def command(source, sandbox, out, checkpoint):
    return [sys.executable, "-m", "pipeline", "--input", str(source), "--gainsight_endpoint", sandbox.url,
            "--checkpoint", str(checkpoint), "--dead_letter", f"{out}/dl/", "--summary", f"{out}/",
            "--track_whitelist", "Feature Used", "--max_requests_per_second", str(RATE),
            "--max_concurrent_requests", str(CONCURRENCY), "--max_retries", "6"]


def environment(key=ACCESS_KEY):
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    env["GAINSIGHT_ACCESS_KEY"] = key
    return env


def kill_when(argv, condition, signum, key=ACCESS_KEY):
    process = subprocess.Popen(argv, cwd=ROOT, env=environment(key), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert process.poll() is None, f"the run ended before the kill: {process.communicate()}"
            assert time.monotonic() < deadline, "the kill point was not reached"
            time.sleep(0.05)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr


def run_to_end(argv, key=ACCESS_KEY):
    done = subprocess.run(argv, cwd=ROOT, env=environment(key), capture_output=True, text=True,
                          timeout=WAIT_SECONDS * 2)
    return done.returncode, done.stdout, done.stderr


def check_resumed(tmp_path, sandbox, due, malformed, first_out, second_out):
    received = Counter(message["messageId"] for message in sandbox.received())
    dead = [r for out in (first_out, second_out) for r in read_jsonl(f"{out}/dl/dead-letter-*.jsonl")]
    undeliverable = Counter(r["event"]["messageId"] for r in dead if r["stage"] == "deliver")
    assert set(received) | set(undeliverable) == set(due)                  # every due message settled
    assert not set(received) - set(due)                                    # nothing else sent
    resent = sum(n - 1 for n in received.values()) + sum(n - 1 for n in undeliverable.values())
    assert resent <= RESENT_BOUND, f"{resent} sent twice"
    parse_dead = {r["raw"] for r in dead if r["stage"] == "parse"}
    assert parse_dead == set(malformed)                                    # every malformed line
    summary = json.loads((second_out / "summary.json").read_text())
    assert summary["balanced"]
    assert summary["delivered"] + summary["dead_lettered"] + summary["already_settled"] == len(due)
    return received, undeliverable, summary


@pytest.mark.parametrize("point, faults, accepted_before_kill", [
    ("early", {"rate_400": 0.02, "seed": 1}, 30),
    ("middle", {"rate_400": 0.02, "seed": 2}, 400),
    ("while 503s are retried", {"rate_503": 0.3, "rate_400": 0.02, "retry_after_seconds": 0, "seed": 3}, 250),
])
def test_sigkill_then_the_same_command_settles_every_event_resending_at_most_the_bound(
        start_sandbox, tmp_path, point, faults, accepted_before_kill):
    sandbox = start_sandbox(**faults)
    due, malformed = export(tmp_path / "events.gz")
    checkpoint = tmp_path / "ckpt"
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    code, _, _ = kill_when(command(tmp_path / "events.gz", sandbox, first_out, checkpoint),
                           lambda: sandbox.stats()["accepted"] >= accepted_before_kill, signal.SIGKILL)
    assert code == -signal.SIGKILL
    accepted_at_kill = sandbox.stats()["accepted"]
    assert accepted_at_kill < len(due) - 100, "killed too late to prove anything"
    code, stdout, stderr = run_to_end(command(tmp_path / "events.gz", sandbox, second_out, checkpoint))
    assert code == 0, stderr
    received, undeliverable, summary = check_resumed(tmp_path, sandbox, due, malformed, first_out, second_out)
    # What the crashed run had delivered is skipped, but for what was in flight or settled in
    # its last second.
    assert summary["already_settled"] >= accepted_at_kill - RESENT_BOUND


def test_sigterm_then_the_same_command_resumes(start_sandbox, tmp_path):
    sandbox = start_sandbox(rate_400=0.02, seed=4)
    due, malformed = export(tmp_path / "events.gz")
    checkpoint = tmp_path / "ckpt"
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    code, stdout, stderr = kill_when(command(tmp_path / "events.gz", sandbox, first_out, checkpoint),
                                     lambda: sandbox.stats()["accepted"] >= 300, signal.SIGTERM)
    assert code == 4, stderr
    first = json.loads((first_out / "summary.json").read_text())
    assert first["unsent"] > 0 and first["balanced"]
    assert "--checkpoint" in stderr
    code, _, stderr = run_to_end(command(tmp_path / "events.gz", sandbox, second_out, checkpoint))
    assert code == 0, stderr
    received, _, summary = check_resumed(tmp_path, sandbox, due, malformed, first_out, second_out)
    assert summary["already_settled"] == first["delivered"] + first["dead_lettered"]
    # A stop lets the requests in flight finish and records them: nothing is sent twice.
    assert max(received.values()) == 1


def test_a_finished_backfill_run_again_sends_nothing(start_sandbox, tmp_path):
    sandbox = start_sandbox(rate_400=0.05, seed=6)
    due, _ = export(tmp_path / "events.gz", count=200)
    checkpoint = tmp_path / "ckpt"
    code, _, stderr = run_to_end(command(tmp_path / "events.gz", sandbox, tmp_path / "first", checkpoint))
    assert code == 0, stderr
    sent_once = sandbox.stats()["accepted"] + sandbox.stats()["injected"]["400"]
    code, _, stderr = run_to_end(command(tmp_path / "events.gz", sandbox, tmp_path / "second", checkpoint))
    assert code == 0, stderr
    stats = sandbox.stats()
    assert stats["accepted"] + stats["injected"]["400"] == sent_once            # nothing sent again
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert (summary["already_settled"], summary["delivered"], summary["dead_lettered"]) == (len(due), 0, 0)
    assert read_jsonl(f"{tmp_path}/second/dl/dead-letter-*.jsonl") == [
        r for r in read_jsonl(f"{tmp_path}/second/dl/dead-letter-*.jsonl") if r["stage"] == "parse"]


def test_a_settled_identify_still_teaches_its_account_to_the_tracks_sent_after_a_resume(sandbox, tmp_path):
    from tests.e2e.cli import run_cli, write_jsonl
    from transforms.outputs.checkpoint import SettledRecorder, open_checkpoint
    checkpoint = str(tmp_path / "ckpt")
    open_checkpoint(checkpoint, {"destination": "gainsight",
                                 "endpoint": sandbox.url + "/clickstream/segmentio/event"})
    recorder = SettledRecorder(checkpoint)
    recorder.record("id-1", "delivered")            # delivered by the run that crashed
    recorder.close()
    source = write_jsonl(tmp_path / "events.jsonl", [
        {"type": "identify", "userId": "u1", "messageId": "id-1", "traits": {"accountId": "ACC-7"},
         "timestamp": "2024-11-01T10:00:00Z"},
        {"type": "track", "userId": "u1", "messageId": "tr-1", "event": "Signed Up",
         "timestamp": "2024-11-01T11:00:00Z"}])
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      "--checkpoint", checkpoint], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert [(m["messageId"], m["properties"]["accountId"]) for m in sandbox.received()] == [("tr-1", "ACC-7")]
    assert (result.summary["already_settled"], result.summary["delivered"]) == (1, 1)
