"""CI smoke tests of the benchmark code (not of its numbers): generator, baseline, measure, CLI."""
import collections
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import arrival_rates, diff_previews, expectation_differences, multiset_digest
from bench.baseline import run as run_baseline
from bench.gainsight_api_calls import measure as measure_calls
from bench.generate import generate
from bench.measure import measure
from transforms.stages.consent import enabled_for
from transforms.stages.parse import InvalidEvent, parse_line
from transforms.common.tags import SENDABLE_TYPES
from transforms.stages.whitelist import is_whitelisted, parse_whitelist

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 600  # room for a busy machine


def _archive_bytes(directory: Path) -> dict:
    """{relative path: bytes} of everything the generator wrote except the manifest."""
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file() and path.name != "manifest.json"}


def _lines(manifest: dict) -> list:
    lines = []
    for path in sorted(Path(manifest["input"]).parent.parent.parent.rglob("*.gz")):
        lines.extend(gzip.decompress(path.read_bytes()).split(b"\n")[:-1])
    return lines


def test_generator_is_deterministic_for_a_seed(tmp_path):
    first = generate(600, tmp_path / "a", files=3, seed=7)
    second = generate(600, tmp_path / "b", files=3, seed=7)
    other = generate(600, tmp_path / "c", files=3, seed=8)
    assert _archive_bytes(tmp_path / "a") == _archive_bytes(tmp_path / "b")
    assert _archive_bytes(tmp_path / "a") != _archive_bytes(tmp_path / "c")
    assert first["expected"] == second["expected"] and first["expected"] != other["expected"]
    assert len(list((tmp_path / "a" / "segment-logs").rglob("*.gz"))) == 3
    # running again over the same directory replaces the archive, byte for byte
    generate(600, tmp_path / "a", files=3, seed=7)
    assert _archive_bytes(tmp_path / "a") == _archive_bytes(tmp_path / "b")


def test_generator_writes_the_requested_count_and_mix(tmp_path):
    events = 6000
    manifest = generate(events, tmp_path / "g", files=5)
    lines = _lines(manifest)
    assert len(lines) == events and all(line.strip() for line in lines)
    invalid, types, message_ids = 0, collections.Counter(), collections.Counter()
    copies_of_sent = 0
    allowed = parse_whitelist(manifest["track_whitelist"])
    first_sent = {}
    for line in lines:
        try:
            event = parse_line(line)
        except InvalidEvent:
            invalid += 1
            continue
        message_ids[event["messageId"]] += 1
        if message_ids[event["messageId"]] == 1:
            types[event["type"]] += 1
            first_sent[event["messageId"]] = (
                enabled_for(event, ("Gainsight",)) and event["type"] in SENDABLE_TYPES
                and (event["type"] != "track" or is_whitelisted(event["event"], allowed)))
        else:
            copies_of_sent += first_sent[event["messageId"]]
    duplicates = sum(message_ids.values()) - len(message_ids)
    expected = manifest["expected"]
    assert invalid == expected["invalid"] and duplicates == manifest["copies"]
    # the job deduplicates after its filters: only copies of events it sends are duplicates
    assert 0 < copies_of_sent == expected["duplicates"] < duplicates
    assert 0.002 * events <= invalid <= 0.01 * events
    assert 0.005 * events <= duplicates <= 0.02 * events
    assert dict(types) == manifest["originals_by_type"]
    originals = sum(types.values())
    share = {kind: count / originals for kind, count in types.items()}
    assert 0.65 <= share["track"] <= 0.75
    assert 0.12 <= share["identify"] <= 0.18
    assert 0.03 <= share["group"] <= 0.07
    assert 0.07 <= share["page"] + share.get("screen", 0) <= 0.13
    assert 400 <= manifest["mean_line_bytes"] <= 1000
    assert expected["skipped_by_integrations"] > 0 and expected["filtered"] > 0
    mapping = Path(manifest["account_mapping"]).read_text().splitlines()
    assert mapping[0] == "userId,accountId" and len(mapping) > 10
    assert len(manifest["track_whitelist"].split(",")) >= 5


def test_baseline_requests_equal_the_jobs_preview(tmp_path):
    manifest = generate(2000, tmp_path / "data", files=4)
    flags = ["--input", manifest["input"], "--track_whitelist", manifest["track_whitelist"],
             "--account_mapping", manifest["account_mapping"]]
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *flags, "--preview", str(tmp_path / "job" / "preview"),
         "--dead_letter", str(tmp_path / "job" / "dead-letter"), "--summary", str(tmp_path / "job.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    job_summary = json.loads((tmp_path / "job.json").read_text())
    base_summary = run_baseline([manifest["input"]], manifest["track_whitelist"],
                                manifest["account_mapping"], str(tmp_path / "base" / "preview"))

    def lines(prefix):
        return sorted(line for path in sorted(tmp_path.glob(prefix + "-*.jsonl"))
                      for line in path.read_text(encoding="utf-8").splitlines())

    job_lines, base_lines = lines("job/preview"), lines("base/preview")
    assert len(job_lines) == manifest["expected"]["previewed"] > 500
    assert job_lines == base_lines
    assert base_summary == job_summary
    assert expectation_differences(manifest["expected"], job_summary) == {}
    assert job_summary["unmapped"] > 0   # some requests go without an account
    with_account = sum('"accountId"' in line or '"type":"group"' in line for line in job_lines)
    assert with_account > len(job_lines) // 2
    digests = multiset_digest(sorted(tmp_path.glob("job/preview-*.jsonl")))
    assert digests == multiset_digest(sorted(tmp_path.glob("base/preview-*.jsonl")))


def test_measure_sums_the_process_tree(tmp_path):
    # The grandchild holds its memory for 3 s, 15 sampling intervals: a busy machine's late
    # samples still see it.
    child = ("import subprocess, sys, time; x = bytearray(120 * 2**20); "
             "subprocess.run([sys.executable, '-c', 'import time; y = bytearray(80 * 2**20); time.sleep(3)'])")
    result = measure([sys.executable, "-c", child], timeout=30, log_prefix=tmp_path / "m")
    assert result["returncode"] == 0 and not result["timed_out"]
    assert result["peak_processes"] >= 2
    assert result["peak_rss_bytes"] >= 200 * 2**20
    # the kernel's high-water mark, in bytes: at least the 120 MiB the child held
    assert result["max_rss_bytes"] >= 120 * 2**20
    stopped = measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert stopped["timed_out"] and stopped["wall_seconds"] < 15


def test_measure_ends_the_wall_time_when_the_child_exits_not_at_the_next_sample():
    # Sampled every 60 s, a child that is done at once: a wall time rounded up to the next
    # sample would read 60 s.
    result = measure([sys.executable, "-c", "pass"], timeout=120, interval=60)
    assert result["returncode"] == 0 and result["samples"] == 1
    assert result["wall_seconds"] < 30


def test_arrival_rates_drop_the_partial_first_and_last_seconds():
    rates = arrival_rates({"100": 7, "101": 50, "103": 48, "104": 3})
    assert rates["busy_seconds"] == 5 and rates["total"] == 108
    assert rates["steady_rate"] == pytest.approx((50 + 0 + 48) / 3, abs=0.1)
    assert rates["max_one_second"] == 50 and rates["series"] == [7, 50, 0, 48, 3]


def test_a_request_mismatch_is_pinpointed(tmp_path):
    def preview(message_id, account):
        return ('{"path":"/clickstream/segmentio/event","body":{"type":"track","messageId":"%s",'
                '"properties":{"accountId":"%s"}}}' % (message_id, account))

    (tmp_path / "job-00000-of-00001.jsonl").write_text("\n".join(
        [preview("m1", "A"), preview("m2", "B"), preview("m3", "C")]) + "\n")
    (tmp_path / "base-00000-of-00001.jsonl").write_text("\n".join(
        [preview("m2", "B"), preview("m1", "X")]) + "\n")
    job, base = [tmp_path / "job-00000-of-00001.jsonl"], [tmp_path / "base-00000-of-00001.jsonl"]
    assert multiset_digest(job) != multiset_digest(base)
    differences = diff_previews(job, base)
    assert (differences["only_in_job"], differences["only_in_baseline"], differences["different_body"]) == (1, 0, 1)
    assert [example["messageId"] for example in differences["examples"]] == ["m3", "m1"]
    assert '"X"' in differences["examples"][1]["baseline"] and '"A"' in differences["examples"][1]["job"]
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("\n".join([preview("m3", "C"), preview("m1", "A"), preview("m2", "B")]) + "\n")
    assert multiset_digest([reordered]) == multiset_digest(job)


def test_bench_smoke_exits_0_and_writes_its_json(tmp_path):
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != "GAINSIGHT_ACCESS_KEY"}
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--results_dir", str(results)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for name in ("B1-processing", "B2-delivery", "B3-scale"):
        result = json.loads((results / f"smoke-{name}.json").read_text())
        assert result["failures"] == []
    b1 = json.loads((results / "smoke-B1-processing.json").read_text())
    assert b1["checks"]["requests"]["match"] and b1["checks"]["summary"]["match"]
    assert b1["job"]["peak_rss_bytes"] > 0 and b1["ratio_job_over_baseline"]["wall_seconds"] > 0
    b2 = json.loads((results / "smoke-B2-delivery.json").read_text())
    assert set(b2["runs"]) == {"concurrency", "rate_limited"}
    assert all(run["arrivals"]["steady_rate"] > 0 for run in b2["runs"].values())
    b3 = json.loads((results / "smoke-B3-scale.json").read_text())
    assert len(b3["points"]) == 2 and len(b3["growth"]) == 1
    assert "B1 processing" in done.stdout and "B2 delivery" in done.stdout


def test_the_gainsight_api_calls_benchmark_counts_every_call_the_sandbox_answered(tmp_path):
    result = measure_calls(2_000, 10_000, 7, tmp_path)
    assert result["exit_code"] == 0
    assert result["calls"] == result["calls_answered_by_sandbox"] - 1   # all but the key check
    sent = result["sent"]
    assert result["rudderstack_pattern_calls"] == sent["identify"] + sent["track"] + 3 * sent["group"]
    assert 0 < result["calls_per_1000_sent"] < result["rudderstack_calls_per_1000_sent"]
    assert result["delivered"] + result["dead_lettered"] == sum(sent.values())
