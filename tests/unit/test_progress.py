"""The progress line a local run prints to stderr every few seconds."""
import io
import time

from pipeline.progress import ProgressReporter, progress_line, resident_memory_bytes
from transforms import counters


def test_progress_line_shows_counts_and_the_read_rate():
    line = progress_line(3725, {"read": 5000, "delivered": 4000, "invalid": 3, "dead_lettered": 2}, 3000, 10)
    assert line == ("progress 01:02:05  read 5000  settled 4005  delivered 4000  previewed 0  "
                    "dead-lettered 5  200 read/s")


def test_progress_line_shows_memory_when_known():
    line = progress_line(10, {"read": 10}, 0, 10, memory_bytes=int(2.5 * 2**30))
    assert line.endswith("1 read/s  memory 2.5 GiB")


def test_resident_memory_grows_when_this_process_holds_more():
    before = resident_memory_bytes()
    ballast = bytearray(256 * 2**20)  # touched below, so the pages are resident
    ballast[::4096] = b"x" * len(ballast[::4096])
    after = resident_memory_bytes()
    assert before is not None and after - before >= 200 * 2**20
    del ballast


def test_reporter_prints_lines_from_the_tally_while_it_runs():
    out = io.StringIO()
    with ProgressReporter(interval=0.05, out=out, memory=lambda: 3 * 2**30):
        counters.LOCAL_TALLY.add(counters.READ, 7)
        deadline = time.monotonic() + 30
        while "read 7" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "read 7" in out.getvalue()
    lines = out.getvalue().splitlines()
    assert all(line.startswith("progress ") and line.endswith("  memory 3.0 GiB") for line in lines)
