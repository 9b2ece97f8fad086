"""Outages end to end: the real CLI against a sandbox that is down for a while (every request
answered 503 or reset), message by message."""
import json

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import run_cli
from tests.e2e.test_guarantees import sendable_events, write_gz

RATE = 100


def backfill(tmp_path, sandbox, count, *extra):
    events = list(sendable_events(count, seed=5))
    write_gz(tmp_path / "events.gz", [json.dumps(e).encode() for e in events])
    result = run_cli(["--input", str(tmp_path / "events.gz"), "--gainsight_endpoint", sandbox.url,
                      "--max_requests_per_second", str(RATE), "--max_retries", "2",
                      "--http_timeout_seconds", "2", *extra], tmp_path / "out", ACCESS_KEY)
    return events, result


def test_an_outage_longer_than_a_requests_retry_budget_dead_letters_nothing(start_sandbox, tmp_path):
    # A request's budget: 3 attempts within 0.5 + 1 s of backoff at most; the outage lasts 12 s.
    sandbox = start_sandbox(outage_after_seconds=4, outage_seconds=12)
    events, result = backfill(tmp_path, sandbox, 1500)
    assert result.code == 0, result.stderr
    received = [m["messageId"] for m in sandbox.received()]
    assert sorted(received) == sorted(e["messageId"] for e in events)     # every one, once
    assert len(received) == len(set(received))
    summary = result.summary
    assert (summary["delivered"], summary["dead_lettered"]) == (len(events), 0)
    assert result.dead_letters == []
    assert summary["outages"] >= 1 and summary["outage_seconds"] >= 5 and summary["balanced"]
    stats = sandbox.stats()
    assert stats["outage"]["503"] + stats["outage"]["drop"] > 0           # the outage really happened
    # When delivery resumed after the backlog built up, the cap still held in every second.
    assert max(stats["accepted_per_second"].values()) <= RATE * 1.05 + 2


def test_an_outage_past_max_outage_minutes_stops_delivery_and_dead_letters_the_rest(start_sandbox, tmp_path):
    sandbox = start_sandbox(outage_after_seconds=3, outage_seconds=600)
    events, result = backfill(tmp_path, sandbox, 1500, "--max_outage_minutes", "0.1")
    assert result.code == 5, result.stderr
    assert "unreachable for longer than --max_outage_minutes" in result.stderr
    received = {m["messageId"] for m in sandbox.received()}
    dead = {r["event"]["messageId"]: r for r in result.dead_letters}
    assert 0 < len(received) < len(events)
    assert received | set(dead) == {e["messageId"] for e in events} and not received & set(dead)
    assert all("--max_outage_minutes" in record["reason"] for record in dead.values())
    summary = result.summary
    assert summary["outage_stopped"] == 1 and summary["dead_lettered"] == len(dead)
    assert summary["unsent"] == 0 and summary["balanced"]


def test_with_a_checkpoint_an_outage_past_the_limit_dead_letters_nothing_and_the_same_command_resumes(
        start_sandbox, tmp_path):
    sandbox = start_sandbox(outage_after_seconds=3, outage_seconds=600)
    checkpoint = str(tmp_path / "ckpt")
    events, first = backfill(tmp_path, sandbox, 1500, "--max_outage_minutes", "0.1",
                             "--checkpoint", checkpoint)
    assert first.code == 5, first.stderr
    assert "run the same command again to resume" in first.stderr
    assert first.dead_letters == []
    summary = first.summary
    assert summary["dead_lettered"] == 0 and summary["unsent"] > 0 and summary["balanced"]
    delivered_first = {m["messageId"] for m in sandbox.received()}
    assert len(delivered_first) == summary["delivered"]
    sandbox.set_faults()                                   # Gainsight is back
    second = run_cli(["--input", str(tmp_path / "events.gz"), "--gainsight_endpoint", sandbox.url,
                      "--max_requests_per_second", str(RATE), "--checkpoint", checkpoint],
                     tmp_path / "second", ACCESS_KEY)
    assert second.code == 0, second.stderr
    received = [m["messageId"] for m in sandbox.received()]
    assert sorted(received) == sorted(e["messageId"] for e in events)    # each once, over both runs
    assert second.summary["already_settled"] == summary["delivered"]
    assert second.summary["delivered"] == summary["unsent"] and second.dead_letters == []
