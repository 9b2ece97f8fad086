"""Delivery guarantees end to end: faults, bad input, damaged files, the rate cap, the key kept secret."""
import gzip
import json
import random
from collections import Counter

from tests.conftest import ACCESS_KEY
from tests.e2e.bad_input import BAD_LINES, corpus_lines
from tests.e2e.cli import run_cli

CALL_TYPES = ["track"] * 7 + ["identify"] * 2 + ["group"]


def sendable_events(count: int, seed: int = 1):
    rng = random.Random(seed)
    for n in range(count):
        call_type = rng.choice(CALL_TYPES)
        event = {"type": call_type, "userId": f"user-{rng.randrange(count // 10 + 1)}", "messageId": f"fm-{n}",
                 "timestamp": f"2024-11-{1 + n % 28:02d}T10:00:00Z"}
        if call_type == "track":
            event.update(event="Feature Used", properties={"n": n})
        elif call_type == "identify":
            event["traits"] = {"accountId": f"ACC-{rng.randrange(100)}"}
        else:
            event["groupId"] = f"ACC-{rng.randrange(100)}"
        yield event


def write_gz(path, lines):
    with gzip.open(path, "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    return path


def test_mixed_faults_lose_nothing_and_the_summary_adds_up(start_sandbox, tmp_path):
    sandbox = start_sandbox(rate_503=0.08, rate_429=0.05, retry_after_seconds=0, drop_rate=0.02,
                            stall_rate=0.0005, stall_seconds=2.5, seed=11)
    events = list(sendable_events(20_000))
    write_gz(tmp_path / "events.gz", [json.dumps(e).encode() for e in events])
    bad, good_ids = corpus_lines()
    write_gz(tmp_path / "bad-input.gz", bad)
    result = run_cli(["--input", str(tmp_path / "*.gz"), "--gainsight_endpoint", sandbox.url,
                      "--max_retries", "8", "--http_timeout_seconds", "1", "--max_requests_per_second", "5000",
                      "--max_concurrent_requests", "16"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    summary = result.summary
    assert summary["balanced"] and summary["read"] == len(events) + len(good_ids) + len(BAD_LINES)
    assert summary["invalid"] == len(BAD_LINES)

    received = Counter(m["messageId"] for m in sandbox.received())
    dead = {r["event"]["messageId"] for r in result.dead_letters if r["stage"] == "deliver"}
    expected = {e["messageId"] for e in events} | set(good_ids)
    assert set(received) | dead == expected                      # every event ended somewhere known
    assert not (set(received) - expected)                        # and nothing else arrived
    twice = [mid for mid, n in received.items() if n > 1]
    assert len(twice) <= summary["ambiguous_retries"]            # only an unknown outcome sends twice
    assert summary["delivered"] + summary["dead_lettered"] == len(expected)
    assert summary["retries"] > 0.1 * len(expected)              # the faults really happened
    stats = sandbox.stats()
    assert stats["injected"]["503"] + stats["injected"]["429"] + stats["injected"]["drop"] > 2000


def test_every_malformed_line_is_dead_lettered_with_its_reason(sandbox, tmp_path):
    lines, good_ids = corpus_lines(good_count=len(BAD_LINES))
    (tmp_path / "bad.jsonl").write_bytes(b"\n".join(lines))
    result = run_cli(["--input", str(tmp_path / "bad.jsonl"), "--gainsight_endpoint", sandbox.url],
                     tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert sorted(m["messageId"] for m in sandbox.received()) == sorted(good_ids)
    by_line = {int(r["source"].rsplit(":", 1)[1]): r for r in result.dead_letters}
    assert len(by_line) == len(BAD_LINES)
    for line_number, record in by_line.items():
        raw, must_say = BAD_LINES[(line_number - 2) // 3]
        assert must_say in record["reason"], (line_number, record["reason"])
        assert record["stage"] == "parse" and record["status"] is None
    assert result.summary["blank_lines"] == len(BAD_LINES)


def test_damaged_gzip_keeps_lines_before_the_damage_and_dead_letters_the_file(sandbox, tmp_path):
    events = [json.dumps(e).encode() for e in sendable_events(3000, seed=5)]
    whole = gzip.compress(b"\n".join(events) + b"\n")
    (tmp_path / "truncated.gz").write_bytes(whole[: len(whole) * 2 // 3])
    (tmp_path / "not-gzip.gz").write_bytes(b"this is not gzip at all\n")
    write_gz(tmp_path / "fine.gz", events[:5])
    result = run_cli(["--input", str(tmp_path / "*.gz"), "--gainsight_endpoint", sandbox.url,
                      "--max_requests_per_second", "5000"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    file_failures = sorted(r["source"].rsplit("/", 1)[1] for r in result.dead_letters if r["stage"] == "read")
    assert file_failures == ["not-gzip.gz", "truncated.gz"]
    received = {m["messageId"] for m in sandbox.received()}
    kept = result.summary["read"] - result.summary["duplicates"]
    assert 1000 < kept < 3000 and len(received) == kept
    assert received == {f"fm-{n}" for n in range(kept)}          # a prefix: exactly the lines before the damage
    assert result.summary["unreadable_files"] == 2


def test_rate_cap_holds_at_the_receiver_in_every_second(sandbox, tmp_path):
    events = list(sendable_events(400, seed=9))
    write_gz(tmp_path / "events.gz", [json.dumps(e).encode() for e in events])
    result = run_cli(["--input", str(tmp_path / "events.gz"), "--gainsight_endpoint", sandbox.url,
                      "--max_requests_per_second", "100", "--sink_parallelism", "2"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    arrivals = sandbox.stats()["arrivals_per_second"]
    assert sum(arrivals.values()) == 400
    assert max(arrivals.values()) <= 100 + 2                     # one slot of burst per shard
