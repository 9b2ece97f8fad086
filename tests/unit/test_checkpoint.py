"""The checkpoint: its manifest (what it was written for), settled records, and loading them back."""
import json
import uuid

import pytest

from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (fixtures)
from transforms.outputs.checkpoint import (CheckpointMismatch, SettledIds, SettledRecorder, load_settled,
                                           message_hash, open_checkpoint, settled_line)

GAINSIGHT = {"destination": "gainsight", "endpoint": "https://event.gainsight.com"}


def test_open_makes_the_directory_and_a_manifest_without_any_key(tmp_path):
    directory = tmp_path / "runs" / "ckpt"
    manifest = open_checkpoint(str(directory), GAINSIGHT)
    assert manifest == {**GAINSIGHT, "version": 1}
    assert json.loads((directory / "checkpoint.json").read_text()) == manifest
    assert [p.name for p in directory.iterdir()] == ["checkpoint.json"]


def test_open_again_for_the_same_destination_and_endpoint_is_fine(tmp_path):
    open_checkpoint(str(tmp_path / "ckpt"), GAINSIGHT)
    assert open_checkpoint(str(tmp_path / "ckpt") + "/", GAINSIGHT) == {**GAINSIGHT, "version": 1}


@pytest.mark.parametrize("other", [{**GAINSIGHT, "endpoint": "http://127.0.0.1:8080"},
                                   {**GAINSIGHT, "destination": "gainsight_px"}])
def test_open_for_another_destination_or_endpoint_is_refused_naming_what_it_was_for(tmp_path, other):
    open_checkpoint(str(tmp_path / "ckpt"), GAINSIGHT)
    with pytest.raises(CheckpointMismatch) as raised:
        open_checkpoint(str(tmp_path / "ckpt"), other)
    assert str(raised.value) == (f"{tmp_path / 'ckpt'} was written for destination gainsight at endpoint "
                                 "https://event.gainsight.com; use a new directory to start over")


def test_open_refuses_a_directory_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointMismatch, match="not empty"):
        open_checkpoint(str(tmp_path), GAINSIGHT)
    assert not (tmp_path / "checkpoint.json").exists()


def test_open_refuses_a_manifest_that_is_not_one(tmp_path):
    (tmp_path / "checkpoint.json").write_text("[1, 2")
    with pytest.raises(CheckpointMismatch, match="not a checkpoint manifest"):
        open_checkpoint(str(tmp_path), GAINSIGHT)


def test_recorded_ids_are_settled_whatever_their_outcome_and_others_are_not(tmp_path):
    recorder = SettledRecorder(str(tmp_path))
    recorder.record("m1", "delivered")
    recorder.record_many([("m2", "dead_lettered"), ("m3", "delivered")])
    recorder.close()
    settled = load_settled(str(tmp_path))
    assert [m in settled for m in ("m1", "m2", "m3", "m4", "")] == [True, True, True, False, False]
    assert len(settled) == 3 and settled.skipped_lines == 0


def test_the_settled_file_shows_outcome_and_messageid(tmp_path):
    recorder = SettledRecorder(str(tmp_path))
    recorder.record('id "quoted" é', "delivered")
    recorder.close()
    assert [p.read_text(encoding="utf-8") for p in tmp_path.glob("settled-*.jsonl")] == [
        '["delivered","id \\"quoted\\" é"]\n']


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        settled_line("m1", "sent")


def test_many_recorders_at_once_each_write_their_own_file_and_all_load(tmp_path):
    recorders = [SettledRecorder(str(tmp_path)) for _ in range(3)]
    for n, recorder in enumerate(recorders):
        recorder.record(f"m{n}", "delivered")
    for recorder in recorders:
        recorder.close()
    assert len(list(tmp_path.glob("settled-*.jsonl"))) == 3
    assert len(load_settled(str(tmp_path))) == 3


def test_a_torn_last_line_is_ignored_and_the_lines_before_it_count(tmp_path):
    (tmp_path / "settled-aaaa.jsonl").write_bytes(b'["delivered","m1"]\n["delivered","m2"]\n["deliv')
    (tmp_path / "settled-bbbb.jsonl").write_bytes(b'["delivered","m3"]\n["delivered","m4')
    settled = load_settled(str(tmp_path))
    assert [m in settled for m in ("m1", "m2", "m3", "m4")] == [True, True, True, False]
    assert settled.skipped_lines == 2


def test_a_line_that_is_not_a_record_is_ignored(tmp_path):
    (tmp_path / "settled-aaaa.jsonl").write_bytes(b'garbage\n{"a": 1}\n["delivered","m1"]\n')
    settled = load_settled(str(tmp_path))
    assert "m1" in settled and len(settled) == 1 and settled.skipped_lines == 2


def test_a_checkpoint_without_settled_files_settles_nothing(tmp_path):
    open_checkpoint(str(tmp_path / "ckpt"), GAINSIGHT)
    assert len(load_settled(str(tmp_path / "ckpt"))) == 0
    assert len(load_settled(str(tmp_path / "absent"))) == 0


def test_an_id_recorded_twice_counts_once():
    assert len(SettledIds.from_ids(["a", "b", "a", "a"])) == 2


def test_the_set_holds_8_bytes_per_id():
    settled = SettledIds.from_ids(f"ajs-{n}" for n in range(10_000))
    assert settled.nbytes() <= 10_000 * 8 * 1.2


def test_membership_over_many_ids_has_no_false_answers():
    settled = SettledIds.from_ids(f"in-{n}" for n in range(50_000))
    assert all(f"in-{n}" in settled for n in range(0, 50_000, 7))
    assert not any(f"out-{n}" in settled for n in range(50_000))


def test_the_hash_is_the_same_in_every_process():
    assert message_hash("ajs-1") == 4045605323974909308  # blake2b, not Python's salted hash()


def test_gcs_checkpoint_manifest_records_and_load(gcs_bucket):
    directory = f"{gcs_bucket}/{uuid.uuid4().hex}/ckpt"
    open_checkpoint(directory, GAINSIGHT)
    with pytest.raises(CheckpointMismatch):
        open_checkpoint(directory, {**GAINSIGHT, "endpoint": "https://other.example"})
    recorder = SettledRecorder(directory, flush_seconds=3600)
    recorder.record("m1", "delivered")
    recorder.flush()
    recorder.record("m2", "dead_lettered")
    recorder.close()
    assert len(recorder.paths) == 2  # one object per flush
    settled = load_settled(directory)
    assert "m1" in settled and "m2" in settled and "m3" not in settled


def test_compacting_merges_the_settled_files_into_one_and_keeps_every_id(tmp_path):
    from transforms.outputs.checkpoint import compact_settled
    for n in range(3):
        recorder = SettledRecorder(str(tmp_path))
        recorder.record(f"m{n}", "delivered")
        recorder.close()
    (tmp_path / "settled-torn.jsonl").write_bytes(b'["delivered","m9"]\n["deliv')
    assert compact_settled(str(tmp_path)) == 4
    files = list(tmp_path.glob("settled-*.jsonl"))
    assert len(files) == 1
    assert sorted(files[0].read_text().splitlines()) == [f'["delivered","m{n}"]' for n in (0, 1, 2, 9)]
    settled = load_settled(str(tmp_path))
    assert len(settled) == 4 and settled.skipped_lines == 0


def test_compacting_one_file_does_nothing(tmp_path):
    from transforms.outputs.checkpoint import compact_settled
    recorder = SettledRecorder(str(tmp_path))
    recorder.record("m1", "delivered")
    recorder.close()
    assert compact_settled(str(tmp_path)) == 0 and recorder.paths[0].endswith(
        next(tmp_path.glob("settled-*.jsonl")).name)


def test_gcs_compacting_many_objects(gcs_bucket):
    from apache_beam.io.filesystems import FileSystems
    from transforms.outputs.checkpoint import compact_settled, settled_paths
    directory = f"{gcs_bucket}/{uuid.uuid4().hex}/ckpt"
    recorder = SettledRecorder(directory, flush_seconds=3600)
    for n in range(5):
        recorder.record(f"m{n}", "delivered")
        recorder.flush()
    recorder.close()
    assert compact_settled(directory) == 5
    assert len(settled_paths(directory)) == 1
    assert not any(FileSystems.exists(path) for path in recorder.paths)
    assert all(f"m{n}" in load_settled(directory) for n in range(5))
