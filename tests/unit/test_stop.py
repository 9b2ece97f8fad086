"""Stopping a local stream: the summary does not wait for a runner that will not stop."""
import threading
import time

from pipeline.main import cancel_within


class _Result:
    """A run result whose cancel() takes `seconds` (a worker held by a blocking read)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.cancelled = threading.Event()

    def cancel(self):
        time.sleep(self.seconds)
        self.cancelled.set()


def test_cancel_within_returns_when_the_runner_stops_in_time():
    result = _Result(0.05)
    assert cancel_within(result, seconds=5) is True
    assert result.cancelled.is_set()


def test_cancel_within_gives_up_on_a_runner_that_does_not_stop(capsys):
    result = _Result(30)
    started = time.monotonic()
    assert cancel_within(result, seconds=0.2) is False
    assert time.monotonic() - started < 15  # of the 30 s cancel; room for a busy machine
    assert not result.cancelled.is_set()
    assert "did not stop within 0.2 s" in capsys.readouterr().err
