"""`./run.sh demo --stream` (python -m pipeline.demo --stream) as a user runs it: every sendable
sample delivered once, the bad ones read back from the dead-letter topic, exit 0, and nothing of
Pub/Sub or the job left running, also after Ctrl-C."""
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter

from tests.e2e.cli import ROOT, read_jsonl, running
from tests.e2e.test_demo_samples import identity

OUTPUT = ROOT / "output" / "demo-stream"


def started_pids(stdout: str) -> list[int]:
    """The pids the demo says it started (the emulator's, the job's)."""
    return [int(pid) for pid in re.findall(r"\(pid (\d+)", stdout)]


def test_the_stream_demo_delivers_every_sendable_sample_once_and_stops_everything():
    # started where SIGINT is ignored, as a script's background job or a CI runner starts it:
    # the Ctrl-C the demo stops its job with must still reach the job
    done = subprocess.run([sys.executable, "-m", "pipeline.demo", "--stream", "--rate", "60"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    expected = read_jsonl(str(ROOT / "samples" / "expected.jsonl"))
    received = read_jsonl(str(OUTPUT / "sandbox" / "received.jsonl"))
    ids = Counter(m["messageId"] for m in received)  # the job gives a message without one an id
    assert ids.most_common(1)[0][1] == 1, "a message arrived twice"
    identities = {identity(m) for m in received}
    for entry in expected:
        assert (entry["messageId"] in ids if entry["messageId"] else identity(entry) in identities), \
            f"not delivered: {entry}"
    assert len(received) == len(expected)
    answer = json.loads((ROOT / "samples" / "expected_summary.json").read_text())
    dead = read_jsonl(str(OUTPUT / "dead-letter.jsonl"))
    assert len(dead) == answer["invalid"] and {r["stage"] for r in dead} == {"parse"}
    assert "balanced" in done.stdout and f"dead letters: {answer['invalid']} records" in done.stdout
    pids = started_pids(done.stdout)
    assert pids and not any(running(pid) for pid in pids)


def test_ctrl_c_stops_the_stream_demo_and_everything_it_started():
    demo = subprocess.Popen([sys.executable, "-m", "pipeline.demo", "--stream", "--rate", "5"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # until it publishes (the emulator and the job run)
            line = demo.stdout.readline()
            lines.append(line)
            if not line or line.startswith("stream: published"):
                break
        demo.send_signal(signal.SIGINT)
        stdout, stderr = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    output = "".join(lines) + stdout
    assert demo.returncode == 130, output[-3000:] + stderr[-3000:]
    assert "interrupted" in stderr
    pids = started_pids(output)
    assert pids and not any(running(pid) for pid in pids)
