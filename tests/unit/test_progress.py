"""The progress line a local run prints to stderr every few seconds."""
import io
import time

from pipeline.progress import ProgressReporter, progress_line
from transforms import counters


def test_progress_line_shows_counts_and_the_read_rate():
    line = progress_line(3725, {"read": 5000, "delivered": 4000, "invalid": 3, "dead_lettered": 2}, 3000, 10)
    assert line == ("progress 01:02:05  read 5000  settled 4005  delivered 4000  previewed 0  "
                    "dead-lettered 5  200 read/s")


def test_reporter_prints_lines_from_the_tally_while_it_runs():
    out = io.StringIO()
    with ProgressReporter(interval=0.05, out=out):
        counters.LOCAL_TALLY.add(counters.READ, 7)
        deadline = time.monotonic() + 5
        while "read 7" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "read 7" in out.getvalue()
    assert all(line.startswith("progress ") for line in out.getvalue().splitlines())
