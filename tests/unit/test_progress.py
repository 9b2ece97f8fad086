"""The progress line a local run prints to stderr every few seconds."""
import io
import time

from pipeline.progress import DeliveryRate, ProgressReporter, progress_line, resident_memory_bytes
from transforms.common import counters, worker_files


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


def test_progress_line_shows_the_share_of_the_input_read_and_the_time_left_at_the_rate_cap():
    counts = {"read": 1000, "bytes_read": 3 * 2**20, "by_type.track": 400, "delivered": 100}
    line = progress_line(10, counts, 0, 10, total_bytes=12 * 2**20, rate_cap=10)
    # 400 handed to the sink from a quarter of the input: 1600 due, 100 sent, 1500 at 10/s
    assert "read 1000 (25% of 12.0 MiB)" in line and line.endswith("eta 00:02:30")


def test_progress_line_without_a_rate_cap_shows_no_eta():
    line = progress_line(10, {"read": 10, "bytes_read": 10}, 0, 10, total_bytes=100)
    assert "(10% of 100 B)" in line and "eta" not in line


def test_read_bytes_of_a_gzip_file_are_its_compressed_bytes(tmp_path):
    import gzip
    from transforms.stages.read import ReadLinesFn
    path = tmp_path / "part.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"n":%d}\n' % n for n in range(5000))))
    fn = ReadLinesFn()
    counted = []
    fn.count = lambda name, value=1: counted.append(value) if name == counters.BYTES_READ else None
    assert len(list(fn.process(str(path)))) == 5000
    assert sum(counted) == path.stat().st_size and len(counted) > 2


def test_input_size_sums_the_matched_files(tmp_path):
    from pipeline.main import input_size
    (tmp_path / "a.jsonl").write_bytes(b"x" * 10)
    (tmp_path / "b.jsonl").write_bytes(b"x" * 5)
    (tmp_path / ".hidden").write_bytes(b"x" * 100)
    assert input_size([f"{tmp_path}/**"]) == (15, 2) and input_size([f"{tmp_path}/a*"]) == (10, 1)
    assert input_size([f"{tmp_path}/none*"]) == (None, 0)


def test_a_run_on_worker_processes_counts_what_they_publish(tmp_path):
    """The job's process reads nothing itself then: its line adds up the workers' files."""
    worker_files.write_counts(str(tmp_path), {counters.READ: 700, counters.PREVIEWED: 3}, pid=11)
    opened = time.mktime((2026, 12, 2, 14, 2, 11, 0, 0, -1))
    worker_files.write_counts(str(tmp_path), {counters.READ: 300}, outage=(opened, 600.0), pid=12)
    out = io.StringIO()
    with ProgressReporter(interval=0.05, out=out, memory=lambda: 2**30,
                          workers_dir=str(tmp_path)) as reporter:
        assert reporter.counts() == {counters.READ: 1000, counters.PREVIEWED: 3}
        deadline = time.monotonic() + 30
        while "read 1000 " not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    line = out.getvalue().splitlines()[0]
    assert "read 1000  settled 3  delivered 0  previewed 3" in line
    assert "Gainsight unreachable since 14:02:11, next probe in " in line   # a worker's breaker


def test_each_run_s_progress_counts_from_zero():
    """A second run in the same process (run() called as a library) does not show the first's."""
    counters.LOCAL_TALLY.add(counters.READ, 6000)   # what an earlier run in this process counted
    out = io.StringIO()
    with ProgressReporter(interval=0.05, out=out, memory=lambda: 2**30):
        counters.LOCAL_TALLY.add(counters.READ, 5)
        deadline = time.monotonic() + 30
        while "read 5 " not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "read 5 " in out.getvalue() and "6005" not in out.getvalue()
    assert counters.LOCAL_TALLY.snapshot() == {counters.READ: 5}


def test_the_eta_counts_at_the_delivery_rate_measured_so_far_not_the_cap():
    # 160,000 events read (the whole input), the cap 450 requests/s, delivery at 318/s
    rate = DeliveryRate()
    whole = {"read": 160_000, "bytes_read": 1000, "by_type.track": 160_000}
    assert rate.observe(10, whole) is None                           # nothing settled yet
    assert rate.observe(20, {**whole, "delivered": 3_180}) is None   # the first settled: the clock starts
    measured = rate.observe(120, {**whole, "delivered": 34_980})
    assert measured == 318.0
    counts = {**whole, "delivered": 34_980}
    line = progress_line(120, counts, 0, 10, total_bytes=1000, rate_cap=450, measured_rate=measured)
    assert line.endswith("eta 00:06:33")                             # 125,020 left at 318/s
    assert progress_line(120, counts, 0, 10, total_bytes=1000, rate_cap=450).endswith("eta 00:04:37")


def test_the_measured_rate_counts_dead_letters_and_unsent_as_settled():
    rate = DeliveryRate()
    rate.observe(0, {"delivered": 10})
    assert rate.observe(10, {"delivered": 40, "dead_lettered": 50, "unsent": 20}) == 10.0


def test_the_first_estimate_counts_events_a_request_carries_and_none_for_a_destination_merging_its_own(
        tmp_path, events_file):
    from pipeline.main import _events_per_second_cap, configure   # pylint: disable=import-outside-toplevel
    source = events_file
    env = {"GAINSIGHT_ACCESS_KEY": "35a84f9e-7084-47a1-b8a5-593444e9e862"}
    _, connector = configure(["--input", source, "--max_requests_per_second", "40"], env)
    _, api = configure(["--input", source, "--destination", "gainsight-api", "--gainsight_domain",
                        "https://acme.gainsightcloud.com"], env)
    _, preview = configure(["--input", source, "--preview", str(tmp_path / "p")], env)
    assert _events_per_second_cap(connector) == 40.0
    assert _events_per_second_cap(api) is None and _events_per_second_cap(preview) is None
