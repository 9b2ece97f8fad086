"""Directories on the command line, through the real CLI: outputs go inside them under default
names; an input directory reads every file below it (hidden ones skipped)."""
import json

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT, read_jsonl, run_cli, write_jsonl

SAMPLES_GLOB = str(ROOT / "samples" / "segment-logs" / "*" / "*" / "*.gz")


def _track(message_id):
    return {"type": "track", "userId": "u1", "messageId": message_id, "event": "Signed Up"}


def test_output_directories_with_a_trailing_slash_get_the_files_inside(tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", [_track("m1"), _track("m2"), '{"type": '])
    out = tmp_path / "out"
    result = run_cli(["--input", str(source), "--preview", f"{out}/preview/", "--summary", f"{out}/"],
                     out, dead_letter=f"{out}/dl/", summary=False)
    assert result.code == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["previewed"] == 2
    assert [line["body"]["messageId"] for line in read_jsonl(f"{out}/preview/preview-*.jsonl")] == ["m1", "m2"]
    assert [record["raw"] for record in read_jsonl(f"{out}/dl/dead-letter-*.jsonl")] == ['{"type": ']


def test_an_existing_directory_without_a_slash_is_a_directory_too(tmp_path, sandbox):
    source = write_jsonl(tmp_path / "events.jsonl", [_track("m1"), "[1]"])
    out = tmp_path / "out"
    (out / "dl").mkdir(parents=True)
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url, "--summary", str(out)],
                     out, ACCESS_KEY, dead_letter=str(out / "dl"), summary=False)
    assert result.code == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["delivered"] == 1
    assert len(read_jsonl(f"{out}/dl/dead-letter-*.jsonl")) == 1


def test_an_input_directory_reads_every_file_below_it_except_hidden_ones(tmp_path, sandbox):
    logs = tmp_path / "segment-logs" / "SRC1"
    (logs / "day1").mkdir(parents=True)
    (logs / "day2" / ".staging").mkdir(parents=True)
    write_jsonl(logs / "day1" / "part-1", [_track("d1")])
    write_jsonl(logs / "day2" / "part-2.jsonl", [_track("d2")])
    write_jsonl(logs / "day2" / ".part-3.tmp", [_track("hidden-file")])
    write_jsonl(logs / "day2" / ".staging" / "part-4", [_track("hidden-dir")])
    result = run_cli(["--input", str(tmp_path / "segment-logs"), "--gainsight_endpoint", sandbox.url],
                     tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert sorted(m["messageId"] for m in sandbox.received()) == ["d1", "d2"]
    assert result.summary["read"] == 2 and result.dead_letters == []


def test_the_bundled_archive_reads_the_same_as_a_directory_and_as_a_glob(tmp_path):
    runs = {}
    for name, given in (("glob", SAMPLES_GLOB), ("directory", str(ROOT / "samples" / "segment-logs") + "/")):
        out = tmp_path / name
        result = run_cli(["--input", given, "--preview", str(out / "preview")], out)
        assert result.code == 0, result.stderr
        runs[name] = result.summary
    assert runs["directory"] == runs["glob"] and runs["glob"]["read"] > 300
