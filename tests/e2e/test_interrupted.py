"""A backfill interrupted part-way, through the real CLI against a slow sandbox: what is on disk
when it is killed (SIGKILL), and what a stop (SIGTERM) prints and leaves behind."""
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT, read_jsonl, write_jsonl

WAIT_SECONDS = 120   # generous: the machine is shared
EVENTS = 400
RATE = 20            # requests/s: the whole run would take EVENTS / RATE = 20 s


def _events(count=EVENTS):
    return [{"type": "track", "userId": f"u{n % 7}", "messageId": f"m{n}", "event": "Signed Up"}
            for n in range(count)]


def _start(args, out):
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    env["GAINSIGHT_ACCESS_KEY"] = ACCESS_KEY
    argv = [sys.executable, "-m", "pipeline", *args, "--dead_letter", f"{out}/dl/",
            "--max_requests_per_second", str(RATE)]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_until(condition, process):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"not reached within {WAIT_SECONDS} s")


def _deliver_dead_letters(out):
    return [r for r in read_jsonl(f"{out}/dl/dead-letter-*.jsonl") if r["stage"] == "deliver"]


def test_dead_letters_of_delivery_are_on_disk_while_the_run_goes_so_sigkill_loses_none(tmp_path, start_sandbox):
    sandbox = start_sandbox(rate_400=0.5, seed=3)
    source = write_jsonl(tmp_path / "events.jsonl", _events() + ['{"broken": '])
    out = tmp_path / "out"
    process = _start(["--input", str(source), "--gainsight_endpoint", sandbox.url], out)
    try:
        _wait_until(lambda: sandbox.stats()["injected"]["400"] >= 20, process)
        answered_400 = sandbox.stats()["injected"]["400"]
        time.sleep(3)  # more than the writer's flush interval (1 s), with room for a busy machine
        on_disk = _deliver_dead_letters(out)
        assert process.poll() is None, "the run finished before it was killed: the test proves nothing"
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert len(on_disk) >= answered_400
    assert all(r["status"] == 400 and r["event"]["messageId"].startswith("m") for r in on_disk)
    after_kill = _deliver_dead_letters(out)
    assert len(after_kill) >= len(on_disk) and len(after_kill) < EVENTS  # killed mid-run
    assert [r["raw"] for r in read_jsonl(f"{out}/dl/dead-letter-*.jsonl") if r["stage"] == "parse"] == ['{"broken": ']


def test_sigterm_ends_with_the_summary_so_far_how_to_resume_and_exit_code_4(tmp_path, start_sandbox):
    sandbox = start_sandbox(rate_400=0.2, latency_ms=20, seed=5)
    source = write_jsonl(tmp_path / "events.jsonl", _events(200))
    out = tmp_path / "out"
    checkpoint = tmp_path / "ckpt"
    process = _start(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      "--checkpoint", str(checkpoint), "--summary", f"{out}/"], out)
    try:
        _wait_until(lambda: sandbox.stats()["injected"]["400"] >= 5, process)
        answered_400 = sandbox.stats()["injected"]["400"]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 4, stderr
    assert "SIGTERM: stopping" in stderr
    assert (f"stopped (interrupted by SIGTERM) before the end: to resume, run the same command again "
            f"with the same --checkpoint {checkpoint}") in stderr
    table = dict(line.split() for line in stdout.splitlines() if len(line.split()) == 2)
    assert table["balanced"] == "yes" and int(table["read"]) == 200
    assert (out / "summary.json").exists()
    assert len(_deliver_dead_letters(out)) >= answered_400
