"""Stopping a local backfill: the signal asks for a stop, the reader reads no more, the last
lines say how to resume, and the exit code is 4."""
import os
import signal
import time

import pytest

from pipeline.main import EXIT_STOPPED, StopOnSignals, WorkersHear, _report
from pipeline.options import resolve_config
from pipeline.summary import build_summary
from tests.conftest import ACCESS_KEY
from transforms.common import counters, stopping, worker_files
from transforms.stages.read import ReadLinesFn


@pytest.fixture(autouse=True)
def no_stop_left_behind():
    stopping.reset()
    yield
    stopping.reset()


def test_sigterm_inside_asks_for_a_stop_instead_of_ending_the_process():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignals():
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping.stop_requested()
        assert stopping.stop_reason() == "interrupted by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_inside_asks_for_a_stop_instead_of_raising():
    with StopOnSignals():
        os.kill(os.getpid(), signal.SIGINT)
        assert stopping.stop_reason() == "interrupted by SIGINT"


def test_the_reader_reads_no_line_after_a_stop(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f'{{"n":{n}}}\n' for n in range(10)))
    lines = ReadLinesFn().process(str(path))
    first = [next(lines), next(lines)]
    stopping.request_stop("test")
    assert [line for _, line in first] == [b'{"n":0}', b'{"n":1}'] and list(lines) == []
    assert list(ReadLinesFn().process(str(path))) == []


def _config(tmp_path, *extra):
    source = tmp_path / "events.jsonl"
    source.write_text("{}\n")
    from apache_beam.options.pipeline_options import PipelineOptions
    return resolve_config(PipelineOptions(["--input", str(source), *extra]), {"--access_key": ACCESS_KEY}, {})


def test_a_stopped_run_prints_the_summary_and_how_to_resume_with_its_checkpoint_and_exits_4(tmp_path, capsys):
    config = _config(tmp_path, "--checkpoint", str(tmp_path / "ckpt"))
    stopping.request_stop("interrupted by SIGTERM")
    code = _report(build_summary({"read": 3, "delivered": 1, "unsent": 2}), config)
    printed = capsys.readouterr()
    assert code == EXIT_STOPPED == 4
    assert "unsent" in printed.out and "balanced" in printed.out
    assert (f"stopped (interrupted by SIGTERM) before the end: to resume, run the same command again "
            f"with the same --checkpoint {tmp_path / 'ckpt'}") in printed.err


def test_without_a_checkpoint_it_says_a_rerun_would_resend_and_to_use_one(tmp_path, capsys):
    stopping.request_stop("interrupted by SIGINT")
    assert _report(build_summary({"read": 1, "delivered": 1}), _config(tmp_path)) == 4
    err = capsys.readouterr().err
    assert "would send again what this run delivered" in err and "--checkpoint DIR next time" in err


def test_a_run_not_stopped_exits_0(tmp_path, capsys):
    assert _report(build_summary({"read": 1, "delivered": 1}), _config(tmp_path)) == 0
    assert "stopped" not in capsys.readouterr().err


def test_a_stop_reaches_the_workers_of_a_run_through_its_directory(tmp_path):
    """The job's process (share_with_workers) and a worker (watch) of one run, here in one
    process: what the worker's stop_requested() answers is read from the stop file alone."""
    directory = str(tmp_path)
    stopping.watch(directory)
    try:
        assert not stopping.stop_requested()
        with WorkersHear(directory):
            assert os.environ[worker_files.RUN_DIR_ENV] == directory
            with StopOnSignals():
                os.kill(os.getpid(), signal.SIGTERM)
        assert worker_files.RUN_DIR_ENV not in os.environ
        assert worker_files.stop_reason_in(directory) == "interrupted by SIGTERM"
        stopping.reset()                      # as a worker that has not looked yet
        deadline = time.monotonic() + 30      # it looks every CHECK_SECONDS
        while not stopping.stop_requested() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stopping.stop_requested() and stopping.stop_reason() == "interrupted by SIGTERM"
    finally:
        stopping.watch(None)
        stopping.share_with_workers(None)


def test_a_run_in_this_process_writes_no_stop_file(tmp_path):
    with WorkersHear(None), StopOnSignals():
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopping.stop_requested() and os.listdir(tmp_path) == []
    assert worker_files.RUN_DIR_ENV not in os.environ


def test_a_worker_publishes_its_counts_every_second(tmp_path):
    tally = counters.LocalTally()
    tally.publish_to(str(tmp_path))
    tally.add(counters.READ, 40)
    tally.add(counters.INVALID, 2)
    deadline = time.monotonic() + 30
    while worker_files.read_counts(str(tmp_path)) != {counters.READ: 40, counters.INVALID: 2} \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker_files.read_counts(str(tmp_path)) == {counters.READ: 40, counters.INVALID: 2}
    assert [name.startswith(f"counts-{os.getpid()}") for name in os.listdir(tmp_path)] == [True]
