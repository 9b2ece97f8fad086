"""DurableAppender: lines on disk at every flush, within a second without one, from any thread."""
import threading
import time
import uuid

import pytest

from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (fixtures)
from transforms.outputs.durable_append import DurableAppender, join_path

WAIT_SECONDS = 30  # generous: the machine is shared


def _lines(paths):
    return [line for path in paths for line in open(path, encoding="utf-8").read().splitlines()]


def _eventually(condition, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_flush_writes_every_line_appended_so_far_to_one_file_of_its_own(tmp_path):
    writer = DurableAppender(str(tmp_path / "dl" / "dead-letter"), flush_seconds=3600)
    writer.append('{"n":1}')
    writer.append_many(['{"n":2}', '{"n":3}'])
    writer.flush()
    assert [p.name for p in (tmp_path / "dl").iterdir()] == [writer.paths[0].rsplit("/", 1)[1]]
    assert writer.paths[0].endswith(".jsonl") and "/dl/dead-letter-" in writer.paths[0]
    assert _lines(writer.paths) == ['{"n":1}', '{"n":2}', '{"n":3}']
    writer.append('{"n":4}')
    writer.close()
    assert _lines(writer.paths) == ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']


def test_lines_reach_the_file_without_a_flush_within_the_flush_interval(tmp_path):
    writer = DurableAppender(str(tmp_path / "settled"), flush_seconds=0.2)
    writer.append("a")
    assert _eventually(lambda: writer.paths and _lines(writer.paths) == ["a"])
    writer.close()


def test_nothing_appended_writes_no_file(tmp_path):
    writer = DurableAppender(str(tmp_path / "dead-letter"))
    writer.flush()
    writer.close()
    assert writer.paths == [] and list(tmp_path.iterdir()) == []


def test_two_writers_on_one_prefix_write_files_of_their_own(tmp_path):
    first, second = DurableAppender(str(tmp_path / "x")), DurableAppender(str(tmp_path / "x"))
    first.append("1")
    second.append("2")
    first.close()
    second.close()
    assert first.paths != second.paths
    assert sorted(_lines(first.paths + second.paths)) == ["1", "2"]


def test_many_threads_appending_at_once_lose_and_repeat_nothing(tmp_path):
    writer = DurableAppender(str(tmp_path / "settled"), flush_seconds=0.01)

    def append(thread):
        for n in range(2000):
            writer.append(f"{thread}-{n}")
            if n % 500 == 0:
                writer.flush()

    threads = [threading.Thread(target=append, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    lines = _lines(writer.paths)
    assert len(lines) == 16000 and set(lines) == {f"{t}-{n}" for t in range(8) for n in range(2000)}
    per_thread = [[int(line.split("-")[1]) for line in lines if line.startswith(f"{t}-")] for t in range(8)]
    assert all(numbers == sorted(numbers) for numbers in per_thread)  # each thread's order kept


def test_a_line_break_inside_a_line_is_refused(tmp_path):
    writer = DurableAppender(str(tmp_path / "x"))
    with pytest.raises(ValueError):
        writer.append('{"a":1}\n{"b":2}')
    writer.close()


def test_appending_after_close_is_an_error(tmp_path):
    writer = DurableAppender(str(tmp_path / "x"))
    writer.close()
    with pytest.raises(ValueError):
        writer.append("late")


def test_a_failed_write_keeps_the_lines_and_is_raised_by_the_next_flush(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    writer = DurableAppender(str(blocker / "dead-letter"), flush_seconds=3600)
    writer.append("kept")
    with pytest.raises(OSError):
        writer.flush()
    blocker.unlink()
    writer.close()  # the directory can be made now: the line was kept and is written
    assert _lines(writer.paths) == ["kept"]


def test_join_path():
    assert join_path("out/dl/", "dead-letter") == "out/dl/dead-letter"
    assert join_path("gs://b/dl", "dead-letter") == "gs://b/dl/dead-letter"


def test_gcs_one_new_object_per_flush(gcs_bucket):
    from apache_beam.io.filesystems import FileSystems
    prefix = f"{gcs_bucket}/{uuid.uuid4().hex}/dead-letter"
    writer = DurableAppender(prefix, flush_seconds=3600)
    writer.append_many(["a", "b"])
    writer.flush()
    writer.append("c")
    writer.close()
    assert [path.rsplit("-", 1)[1] for path in writer.paths] == ["000001.jsonl", "000002.jsonl"]
    assert [FileSystems.open(path).read() for path in writer.paths] == [b"a\nb\n", b"c\n"]
    listed = sorted(m.path for m in FileSystems.match([prefix + "*.jsonl"])[0].metadata_list)
    assert listed == writer.paths


def test_gcs_lines_reach_an_object_without_a_flush(gcs_bucket):
    from apache_beam.io.filesystems import FileSystems
    prefix = f"{gcs_bucket}/{uuid.uuid4().hex}/settled"
    writer = DurableAppender(prefix, flush_seconds=0.2)
    writer.append("a")
    assert _eventually(lambda: FileSystems.match([prefix + "*"])[0].metadata_list)
    writer.close()
    assert len(writer.paths) == 1


def test_a_line_written_after_before_write_never_reaches_disk_ahead_of_what_it_refers_to(tmp_path):
    """The checkpoint's write flushes the dead letters first; a pair appended by another thread
    while that flush runs must not have its checkpoint line written without its dead letter."""
    dead = DurableAppender(str(tmp_path / "dl" / "dead-letter"), flush_seconds=3600)
    raced = []

    def flush_dead_letters_while_another_thread_appends():
        dead.flush()
        if not raced:
            raced.append(True)
            dead.append("dl-2")
            checkpoint.append("ck-2")

    checkpoint = DurableAppender(str(tmp_path / "ck" / "settled"), flush_seconds=3600,
                                 before_write=flush_dead_letters_while_another_thread_appends)
    dead.append("dl-1")
    checkpoint.append("ck-1")
    checkpoint.flush()
    written = lambda directory: "".join(p.read_text() for p in (tmp_path / directory).glob("*.jsonl"))
    assert "ck-1" in written("ck") and "dl-1" in written("dl")
    assert "ck-2" not in written("ck") or "dl-2" in written("dl")
    dead.close()
    checkpoint.close()
