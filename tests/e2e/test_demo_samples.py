"""The demo (`./run.sh` with no arguments) over the bundled samples, checked against the answer
key in samples/expected.jsonl message by message (the key was written from each scenario's
intent by samples/make_samples.py, not by running this job)."""
import json
import re
import subprocess
import sys
from collections import Counter

from tests.e2e.cli import ROOT, read_jsonl
from transforms.common.counters import OUTCOMES

OUTPUT = ROOT / "output" / "demo"


def account_of(message: dict):
    if message["type"] == "group":
        return message["groupId"]
    field = "traits" if message["type"] == "identify" else "properties"
    return (message.get(field) or {}).get("accountId")


def identity(message: dict):
    """How a message without a source messageId is recognised (its id was derived by the job)."""
    return (message["type"], message.get("userId"), message.get("anonymousId"), message.get("event"),
            message.get("timestamp"))


def run_demo(*args) -> list:
    """Runs the demo with args; what its sandbox received."""
    done = subprocess.run([sys.executable, "-m", "pipeline.demo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "balanced                        yes" in done.stdout
    return read_jsonl(str(OUTPUT / "sandbox" / "received.jsonl"))


def assert_received_as_the_key_says(received: list, expected: list):
    """Each expected message arrived once, of its type, with its account; nothing else did."""
    ids = Counter(message["messageId"] for message in received)
    assert ids.most_common(1)[0][1] == 1, "a message arrived twice"
    assert len(received) == len(expected)
    by_id = {message["messageId"]: message for message in received}
    by_identity = {identity(message): message for message in received}
    for entry in expected:
        message = by_id.get(entry["messageId"]) if entry["messageId"] else by_identity.get(identity(entry))
        assert message is not None, f"not delivered: {entry}"
        assert message["type"] == entry["type"]
        assert account_of(message) == entry["accountId"], f"wrong account for {entry}"


def test_demo_delivers_the_answer_key_once_each_with_the_right_account():
    received = run_demo()
    expected = read_jsonl(str(ROOT / "samples" / "expected.jsonl"))
    assert_received_as_the_key_says(received, expected)

    summary = json.loads((OUTPUT / "summary.json").read_text())
    answer = json.loads((ROOT / "samples" / "expected_summary.json").read_text())
    php = [message for message in received if message.get("userId") == "usr_php_ned"]
    assert len(php) == 3 and all(message["context"] == {} and message["integrations"] == {} for message in php)
    ollivanders = next(entry["accountId"] for entry in expected if entry["userId"] == "usr_php_ned")
    assert [m["properties"] for m in php if m["type"] == "track"] == [{"accountId": ollivanders}]

    for key in ("read", "invalid", "duplicates", "skipped_by_integrations", "unsupported", "filtered",
                "by_type", "unmapped", "stitched"):
        assert summary[key] == answer[key], key
    assert summary["delivered"] == answer["sent"] and summary["dead_lettered"] == 0
    dead = read_jsonl(str(OUTPUT / "dead-letter*.jsonl"))
    assert len(dead) == answer["invalid"] and {r["stage"] for r in dead} == {"parse"}

    report = (OUTPUT / "report.html").read_text()      # the demo's delivery report
    funnel = dict(re.findall(r'data-funnel="([^"]+)" data-value="(\d+)"', report))
    assert {name: int(n) for name, n in funnel.items()} == {
        name: summary[name] for name in ("read",) + OUTCOMES}


def test_the_px_demo_delivers_every_identify_group_track_and_page_once_with_the_right_account():
    # The answer key's consent follows the "Gainsight" name; PX is told to honour that name.
    received = run_demo("--destination", "gainsight-px", "--integration_name", "Gainsight")
    expected = (read_jsonl(str(ROOT / "samples" / "expected.jsonl"))
                + read_jsonl(str(ROOT / "samples" / "expected_pages.jsonl")))
    assert_received_as_the_key_says(received, expected)
    assert {message["type"] for message in received} == {"identify", "group", "track", "page"}
    summary = json.loads((OUTPUT / "summary.json").read_text())
    assert summary["by_type"]["page"] == len(read_jsonl(str(ROOT / "samples" / "expected_pages.jsonl")))
    assert summary["unsupported_by_type"]["page"] == 0
    assert summary["delivered"] == len(expected) and summary["dead_lettered"] == 0
