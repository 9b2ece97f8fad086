"""A local backfill on worker processes (Beam's multi_processing mode, each worker
`python -m pipeline.processes.worker`, started before the job imports Beam: pipeline.processes.warm_workers),
through the real CLI against a slow sandbox: its progress line counts what the workers do, and
SIGTERM or Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops it the
graceful way: exit 4, the summary so far, nothing left running; a SIGKILL leaves no worker."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline.processes.memory import process_tree
from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT, running, write_jsonl

WAIT_SECONDS = 120   # generous: the machine is shared
EVENTS = 400
RATE = 20            # requests/s: the whole run would take EVENTS / RATE = 20 s
WORKERS = ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]


def _events():
    return [{"type": "track", "userId": f"u{n % 7}", "messageId": f"m{n}", "event": "Signed Up"}
            for n in range(EVENTS)]


class _Run:
    """The CLI in a process group of its own, its stderr collected line by line as it comes."""

    def __init__(self, args):
        env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
        env["GAINSIGHT_ACCESS_KEY"] = ACCESS_KEY
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args, "--max_requests_per_second", str(RATE)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def wait_for(self, condition):
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.process.poll() is None, f"the run ended early: {self.stderr_lines}"
            time.sleep(0.1)
        raise AssertionError(f"not reached within {WAIT_SECONDS} s: {self.stderr_lines}")

    def finish(self) -> tuple[int, str, str]:
        stdout = self.process.stdout.read()
        self.process.wait(WAIT_SECONDS)
        self._reader.join(WAIT_SECONDS)
        return self.process.returncode, stdout, "\n".join(self.stderr_lines)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(WAIT_SECONDS)


def _workers_of(job_pid: int) -> dict[int, str]:
    """{pid: command line} of the job's worker processes alive now (warm ones, attached or not,
    and the runner's attach clients: pipeline.processes.warm_workers)."""
    found = {}
    for pid in process_tree(job_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "pipeline.processes.worker" in command and running(pid):
            found[pid] = command
    return found


def _table(stdout: str) -> dict:
    return dict(line.split() for line in stdout.splitlines() if len(line.split()) == 2)


@pytest.mark.parametrize("signum, to_group", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM to the job", "Ctrl-C to every process"])
def test_a_run_on_worker_processes_shows_their_progress_and_stops_gracefully(
        tmp_path, start_sandbox, signum, to_group):
    sandbox = start_sandbox(latency_ms=20, seed=5)
    source = write_jsonl(tmp_path / "events.jsonl", _events())
    out = tmp_path / "out"
    checkpoint = tmp_path / "ckpt"
    run = _Run(["--input", str(source), "--gainsight_endpoint", sandbox.url, *WORKERS,
                "--checkpoint", str(checkpoint), "--dead_letter", f"{out}/dl/",
                "--summary", f"{out}/"])
    try:
        # the first progress line comes after 10 s, half-way through the deliveries
        run.wait_for(lambda: any(line.startswith("progress ") for line in run.stderr_lines))
        progress = next(line for line in run.stderr_lines if line.startswith("progress "))
        workers = _workers_of(run.process.pid)
        # the runner's two workers are the two started before the job imported Beam
        assert sum("pipeline.processes.worker --warm" in command for command in workers.values()) == 2, workers
        assert sum("pipeline.processes.worker_attach" in command for command in workers.values()) == 2, workers
        if to_group:
            os.killpg(run.process.pid, signum)
        else:
            run.process.send_signal(signum)
        code, stdout, stderr = run.finish()
    finally:
        run.kill()
    fields = progress.split()   # counted by the workers: this process reads nothing itself
    assert int(fields[fields.index("read") + 1]) == EVENTS, progress
    name = signal.Signals(signum).name
    assert code == 4, stderr
    assert f"{name}: stopping" in stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert (f"stopped (interrupted by {name}) before the end: to resume, run the same command "
            f"again with the same --checkpoint {checkpoint}") in stderr
    table = _table(stdout)
    assert table["balanced"] == "yes" and int(table["read"]) == EVENTS
    # the workers heard the stop: they sent no new request after it, and held the rest back
    assert int(table["unsent"]) > 0
    assert int(table["delivered"]) == sandbox.stats()["accepted"] < EVENTS
    assert (out / "summary.json").exists()
    assert not [pid for pid in workers if running(pid)]   # the job waited for them


def test_the_workers_of_a_killed_run_end_with_it(tmp_path, start_sandbox):
    """SIGKILL of the job's process (a crash: no handler runs) leaves no worker sending on."""
    sandbox = start_sandbox(latency_ms=20, seed=6)
    source = write_jsonl(tmp_path / "events.jsonl", _events())
    out = tmp_path / "out"
    run = _Run(["--input", str(source), "--gainsight_endpoint", sandbox.url, *WORKERS,
                "--checkpoint", str(tmp_path / "ckpt"), "--dead_letter", f"{out}/dl/"])
    try:
        run.wait_for(lambda: sandbox.stats()["accepted"] >= 40)
        workers = _workers_of(run.process.pid)
        assert len(workers) == 4, workers   # two warm workers, two attach clients
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(WAIT_SECONDS)
        deadline = time.monotonic() + 60
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if running(pid)]
        accepted = sandbox.stats()["accepted"]
        time.sleep(2)
        assert sandbox.stats()["accepted"] == accepted < EVENTS   # nothing sent after the kill
    finally:
        run.kill()
