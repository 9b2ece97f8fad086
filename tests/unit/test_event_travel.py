"""How a backfill's events travel to the per-user step: blocks by user bucket
(transforms.shuffle.user_blocks), spill files on a local run (transforms.shuffle.spill), packed side inputs
(transforms.shuffle.packed_lookup)."""
import math
import os
import subprocess
import sys
import tempfile

import orjson
import pytest

from pipeline.main import REMOTE_USER_BUCKETS, configure, with_event_travel
from transforms.stages.accounts import fact_to_json, history_from_json
from transforms.shuffle.user_blocks import key_hash
from transforms.stages.enrich import UserKeyer
from transforms.stages.identity import runs_from_json, runs_to_json
from transforms.common.jsonio import unpack
from transforms.shuffle.packed_lookup import TABLE_BUCKETS, PackedTable, packed_buckets
from transforms.shuffle.spill import SPILL_DIR_PREFIX, SpillFile, SpillReader, block_of, make_spill_dir
from transforms.shuffle.user_blocks import (MAX_BUCKETS, MIN_BUCKETS, UserBlocks, block_chunks, bucket_of, by_user,
                                            join_block, user_buckets)


def test_bucket_count_grows_with_the_input_and_is_bounded():
    assert user_buckets(None) == user_buckets(0) == MIN_BUCKETS
    assert user_buckets(512 << 20) == MIN_BUCKETS
    assert user_buckets((512 << 20) + 1) == MIN_BUCKETS + 1
    assert user_buckets(1 << 50) == MAX_BUCKETS


def test_every_event_of_a_user_lands_in_one_bucket_and_comes_back_whole():
    events = [{"messageId": f"m{n}", "userId": f"u{n % 7}", "text": "line\nbreak \u00e9 \"q\""}
              for n in range(300)]
    first, second = UserBlocks(buckets=8), UserBlocks(buckets=8)
    for n, event in enumerate(events):
        (first if n % 2 else second).add(f"u:{event['userId']}", (11, n), event)
    blocks = [(bucket, join_block(parts)) for bucket, parts in first.drain() + second.drain()]
    assert first.drain() == [] and first.size == 0
    buckets = {}
    for bucket, block in blocks:
        buckets.setdefault(bucket, []).append(block)
    seen = {}
    for bucket, bucket_blocks in buckets.items():
        for key, rows in by_user(bucket_blocks).items():
            assert bucket_of(key_hash(key), 8) == bucket
            assert key not in seen    # a user's rows are all in one bucket
            seen[key] = {origin: unpack(event) for origin, event in rows}
    assert {origin: event for rows in seen.values() for origin, event in rows.items()} == {
        (11, n): event for n, event in enumerate(events)}
    assert sorted(seen) == sorted({f"u:u{n}" for n in range(7)})


def test_a_block_whose_header_and_events_disagree_is_an_error_not_a_silent_drop():
    blocks = UserBlocks(buckets=1)
    blocks.add("u:1", (1, 1), {"messageId": "m1"})
    blocks.add("u:1", (1, 2), {"messageId": "m2"})
    (_, parts), = blocks.drain()
    block = join_block(parts)
    assert b"".join(block_chunks(parts)) == block
    with pytest.raises(ValueError):
        by_user([block.rsplit(b"\n", 1)[0]])


def test_spilled_blocks_read_back_from_several_files(tmp_path):
    files = [SpillFile(str(tmp_path)), SpillFile(str(tmp_path))]
    written = {}
    for n in range(40):
        block = bytes([n]) * (n * 1000 + 1)
        written[files[n % 2].write([block[:7], block[7:]])] = block
    for spill in files:
        spill.close()
    assert len(list(tmp_path.iterdir())) == 2
    reader = SpillReader()
    assert {ref: block_of(ref, reader) for ref in written} == written
    assert block_of(b"inline", reader) == b"inline"
    reader.close()


def test_a_spill_file_cut_short_is_a_clear_error(tmp_path):
    spill = SpillFile(str(tmp_path))
    ref = spill.write([b"x" * 100])
    spill.close()
    with open(ref[0], "r+b") as handle:
        handle.truncate(50)
    with pytest.raises(OSError, match="shorter than its blocks"):
        SpillReader().read(ref)


def test_a_keyer_with_a_spill_dir_sends_refs_to_the_blocks_it_would_have_sent(tmp_path):
    sourced = [(("f.jsonl", n), {"type": "track", "event": "E", "messageId": f"m{n}",
                                  "userId": f"u{n % 3}"}) for n in range(1, 50)]
    plain, spilled = UserKeyer(4), UserKeyer(4, str(tmp_path))
    for item in sourced:
        plain.add(item)
        spilled.add(item)
    (plain_blocks, plain_copies), (refs, copies) = plain.drain(), spilled.drain()
    spilled.close()
    reader = SpillReader()
    assert sorted((bucket, block_of(ref, reader)) for bucket, ref in refs) == sorted(plain_blocks)
    assert all(not isinstance(ref, bytes) for _, ref in refs) and copies == plain_copies


def test_a_packed_table_decodes_each_key_once_per_side_input():
    decoded = []

    def decode(raw):
        decoded.append(raw)
        return raw.upper()

    keys = [f"k{n}" for n in range(200)]
    side_input = dict(packed_buckets((key, f"v{key}") for key in keys))
    assert 1 < len(side_input) <= TABLE_BUCKETS   # one element per bucket, not per key
    lookup = PackedTable(decode)
    view = lookup.view(side_input)
    assert [view.get(key) for key in keys] == [f"VK{n}" for n in range(200)]
    assert [view.get("k7"), view.get("missing", "-"), view.get(None, "-"), view.get("missing")] == \
        ["VK7", "-", "-", None]
    assert len(decoded) == 200                      # k7 once
    assert lookup.view(dict(packed_buckets([("k7", "other")]))).get("k7") == "OTHER"   # anew


def test_histories_and_link_runs_cross_as_json_exactly():
    facts = [(-math.inf, "A", False), (10.0, "B", True), (5.5, "C", False)]
    history = history_from_json(orjson.loads(orjson.dumps([fact_to_json(*fact) for fact in facts])))
    assert [history.fact_at(t) for t in (None, -1.0, 6.0, 11.0)] == [
        (10.0, "B", True), (-math.inf, "A", False), (5.5, "C", False), (10.0, "B", True)]
    runs = ((-math.inf, "u1"), (3.25, "u2"))
    assert runs_from_json(orjson.loads(orjson.dumps(runs_to_json(runs)))) == runs


def test_a_local_backfill_spills_and_a_remote_one_or_a_stream_does_not(tmp_path):
    (tmp_path / "events.jsonl").write_text("{}\n")
    _, backfill = configure(["--input", str(tmp_path / "events.jsonl"), "--preview", str(tmp_path / "p")], {})
    local = with_event_travel(backfill, False, 10 << 30)
    try:
        assert local.user_buckets == user_buckets(10 << 30) == 1280
        assert os.path.isdir(local.spill_dir) and not os.listdir(local.spill_dir)
    finally:
        os.rmdir(local.spill_dir)
    remote = with_event_travel(backfill, True, None)
    assert (remote.user_buckets, remote.spill_dir) == (REMOTE_USER_BUCKETS, None)
    _, stream = configure(["--input_subscription", "projects/my-project/subscriptions/s"],
                          {"GAINSIGHT_ACCESS_KEY": "0d1f3a8e-6b2c-4e5f-9a7d-3c2b1a0f9e8d"})
    assert with_event_travel(stream, False, None) == stream


def test_a_new_run_removes_the_spill_directories_of_runs_that_are_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    abandoned = tmp_path / f"{SPILL_DIR_PREFIX}{gone.stdout.strip()}-x1"
    alive = tmp_path / f"{SPILL_DIR_PREFIX}{os.getppid()}-x2"     # the test runner's parent
    unrelated = tmp_path / f"{SPILL_DIR_PREFIX}not-a-pid"
    for directory in (abandoned, alive, unrelated):
        directory.mkdir()
        (directory / "a.blocks").write_bytes(b"x")
    made = make_spill_dir()
    assert os.path.basename(made).startswith(f"{SPILL_DIR_PREFIX}{os.getpid()}-")
    assert not abandoned.exists() and alive.exists() and unrelated.exists()
