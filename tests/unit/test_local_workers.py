"""How many worker processes a local backfill runs on, the CLI's early guess of it, and the warm
workers it starts on that guess (pipeline.processes.local_workers, pipeline.processes.warm_workers,
pipeline.processes.worker_attach)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from pipeline.processes.local_workers import (MAX_LOCAL_WORKERS, PARALLEL_INPUT_BYTES, local_input_size,
                                              planned_workers, worker_count)
from pipeline.processes.warm_workers import WarmWorkers
from pipeline.processes.worker_attach import socket_name, take_worker
from tests.e2e.cli import ROOT, running
from transforms.shuffle.spill import make_spill_dir

WAIT_SECONDS = 60


def _input(tmp_path, sizes, hidden=0):
    """Sparse files of these sizes in tmp_path/logs (and `hidden` bytes in a hidden one)."""
    logs = tmp_path / "logs" / "day"
    logs.mkdir(parents=True)
    for n, size in enumerate(sizes):
        with open(logs / f"part-{n}.gz", "wb") as handle:
            handle.truncate(size)
    if hidden:
        with open(logs / ".part.gz.tmp", "wb") as handle:
            handle.truncate(hidden)
    return str(tmp_path / "logs")


def test_worker_count_follows_the_user_else_the_input_size():
    big, cpus = PARALLEL_INPUT_BYTES, 2
    assert worker_count("in_memory", 1, False, big, 20, cpus) == 2
    assert worker_count("in_memory", 1, False, big - 1, 20, cpus) is None
    assert worker_count("in_memory", 1, False, big, 1, cpus) is None      # one file: one reader
    assert worker_count("in_memory", 1, False, None, 0, cpus) is None     # size unknown
    assert worker_count("in_memory", 1, False, big, 50, 64) == MAX_LOCAL_WORKERS
    assert worker_count("in_memory", 1, True, big, 20, cpus) is None      # --direct_running_mode in_memory
    assert worker_count("multi_processing", 1, True, 10, 1, cpus) == 1    # the user's choice, any size
    assert worker_count("multi_processing", 0, True, 10, 1, 6) == 6       # 0: one per CPU


def test_the_input_is_sized_as_the_reader_reads_it(tmp_path):
    directory = _input(tmp_path, [1000, 24], hidden=10**6)
    assert local_input_size([directory]) == (1024, 2)
    assert local_input_size([f"{directory}/day/part-0.gz", f"{directory}/*/part-*.gz"]) == (1024, 2)
    assert local_input_size([str(tmp_path / "none*")]) == (0, 0)


def test_the_early_guess_starts_workers_only_for_a_large_local_backfill(tmp_path):
    large = _input(tmp_path, [PARALLEL_INPUT_BYTES // 2, PARALLEL_INPUT_BYTES // 2])
    assert planned_workers(["--input", large, "--preview", "out/"], cpus=2) == 2
    assert planned_workers([f"--input={large}"], cpus=4) == 2                       # two files
    assert planned_workers(["--input", large, "--direct_running_mode", "in_memory"], cpus=2) is None
    assert planned_workers(["--input", "x", "--direct_running_mode=multi_processing",
                            "--direct_num_workers", "3"], cpus=2) == 3
    for not_local in (["--runner", "DataflowRunner"], ["--dry_run=True"], ["--streaming"],
                      ["--input_subscription", "projects/p/subscriptions/s"], ["--help"],
                      ["--input", "gs://bucket/logs/"]):
        assert planned_workers(["--input", large, *not_local], cpus=2) is None, not_local
    assert planned_workers(["--input", large, "--runner", "FnApiRunner"], cpus=2) == 2
    assert planned_workers(["--input", large, "--direct_num_workers", "two"], cpus=2) is None
    small = _input(tmp_path / "small", [1000, 1000])
    assert planned_workers(["--input", small], cpus=2) is None


def test_each_warm_worker_is_taken_once(tmp_path):
    for n in range(2):
        (tmp_path / f"worker-{n}").write_text("")
    taken = {take_worker(str(tmp_path)), take_worker(str(tmp_path))}
    assert taken == {str(tmp_path / "worker-0"), str(tmp_path / "worker-1")}
    assert sorted(os.listdir(tmp_path)) == ["worker-0.taken", "worker-1.taken"]
    assert take_worker(str(tmp_path)) is None
    assert take_worker(str(tmp_path / "gone")) is None


def test_a_warm_worker_ends_when_its_job_is_gone_before_anyone_took_it(tmp_path, monkeypatch):
    """The job's process (here a small stand-in) killed with SIGKILL: no warm worker stays."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    job = subprocess.Popen([sys.executable, "-c",
                            "import time\n"
                            "from pipeline.processes.warm_workers import WarmWorkers\n"
                            "warm = WarmWorkers.start(1)\n"
                            "print(warm._processes[0].pid, warm.directory, flush=True)\n"
                            "time.sleep(120)\n"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        pid, directory = job.stdout.readline().split()
        deadline = time.monotonic() + WAIT_SECONDS
        while not os.path.exists(os.path.join(directory, "worker-0")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(os.path.join(directory, "worker-0"))   # listening, waiting
        job.send_signal(signal.SIGKILL)
        job.wait(WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while running(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(int(pid))
        # its directory, named like the killed run's spill directory, goes with the next run's
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        shutil.rmtree(make_spill_dir())
        assert not os.path.exists(directory)
    finally:
        if job.poll() is None:
            job.kill()
        job.stdout.close()


def test_a_run_that_does_not_use_its_warm_workers_stops_them(tmp_path):
    """A guess the checks do not bear out (here a configuration error: the input matches
    nothing): exit 2, and the warm workers and their directory are gone with the run."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pipeline", "--input", str(tmp_path / "x.jsonl"),
                           "--direct_running_mode", "multi_processing", "--direct_num_workers", "2",
                           "--preview", str(tmp_path / "out/")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "configuration error" in done.stderr
    assert "Traceback" not in done.stderr
    assert [name for name in os.listdir(tmp_path) if "warm" in name] == []



def test_a_warm_worker_takes_its_work_only_from_a_process_its_job_started(tmp_path, monkeypatch):
    """Anyone on the machine can reach an abstract socket: this test's process is the warm
    worker's job itself, not a process the job started, so the worker hangs up on it and goes
    on waiting for the runner's worker command."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    warm = WarmWorkers.start(1)
    try:
        marker = os.path.join(warm.directory, "worker-0")
        deadline = time.monotonic() + WAIT_SECONDS
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as stranger:
            stranger.settimeout(WAIT_SECONDS)
            stranger.connect(socket_name(marker))
            stranger.sendall(b'{"CONTROL_API_SERVICE_DESCRIPTOR": "url: \\"localhost:1\\""}\n')
            try:
                answer = stranger.recv(16)
            except ConnectionResetError:   # it hung up on what it did not read
                answer = b""
            assert answer == b""                               # no exit code: it did not run
        assert running(warm._processes[0].pid) and os.path.exists(marker)
    finally:
        warm.close()
    assert not os.path.exists(warm.directory)
