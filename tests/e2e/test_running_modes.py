"""Every local running mode the job accepts gives the default's outcome, event for event; the
others are refused at start-up naming the flag.

The input is the benchmark generator's (several gzipped files, duplicates, malformed lines,
every call type, users who change account), written small; each mode runs the real CLI with
--preview, and its request lines, summary and dead letters are compared with the default run's.
"""
import collections
import glob
from pathlib import Path

import pytest

from bench.generate import generate
from pipeline.main import run
from tests.e2e.cli import read_jsonl, run_cli

EVENTS = 3000
FILES = 3

ACCEPTED_MODES = {
    "in_memory, 2 workers": ["--direct_num_workers", "2", "--direct_running_mode", "in_memory"],
    "multi_processing, 2 workers": ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
    "multi_processing, 1 worker": ["--direct_num_workers", "1", "--direct_running_mode", "multi_processing"],
}

REFUSED_MODES = {
    "multi_threading, 2 workers": (["--direct_num_workers", "2", "--direct_running_mode", "multi_threading"],
                                   "--direct_running_mode: multi_threading is refused"),
    "multi_threading, 1 worker": (["--direct_num_workers", "1", "--direct_running_mode", "multi_threading"],
                                  "--direct_running_mode: multi_threading is refused"),
    "negative worker count": (["--direct_num_workers", "-1"], "--direct_num_workers: must be 0"),
}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    manifest = generate(EVENTS, tmp_path_factory.mktemp("export"), files=FILES, seed=15)
    assert manifest["copies"] > 0 and manifest["expected"]["invalid"] > 0
    return manifest


def job_args(manifest: dict, out: Path) -> list:
    return ["--input", manifest["input"], "--track_whitelist", manifest["track_whitelist"],
            "--account_mapping", manifest["account_mapping"], "--preview", str(out / "preview")]


def outcome(manifest: dict, out: Path, mode_args=()) -> dict:
    """The run's preview lines (as a multiset), summary and dead letters (without their time)."""
    result = run_cli(job_args(manifest, out) + list(mode_args), out)
    assert result.code == 0, result.stderr
    # the CLI skips the interpreter's teardown after a backfill: nothing it printed is lost
    assert result.stdout.endswith(f"summary: {out / 'summary.json'}\n")
    lines = [line for path in sorted(glob.glob(f"{out}/preview-*.jsonl"))
             for line in Path(path).read_text(encoding="utf-8").splitlines()]
    dead_letters = sorted((r["stage"], r["reason"], r.get("source"), r.get("raw"))
                          for r in read_jsonl(f"{out}/dead-letter*.jsonl"))
    return {"requests": collections.Counter(lines), "summary": result.summary,
            "dead_letters": dead_letters}


@pytest.fixture(scope="module")
def default_outcome(export, tmp_path_factory):
    found = outcome(export, tmp_path_factory.mktemp("default"))
    assert found["summary"]["balanced"]
    assert found["summary"]["previewed"] == export["expected"]["previewed"] == sum(found["requests"].values())
    return found


@pytest.mark.parametrize("mode", ACCEPTED_MODES)
def test_accepted_mode_gives_the_default_outcome_event_for_event(mode, export, default_outcome, tmp_path):
    found = outcome(export, tmp_path, ACCEPTED_MODES[mode])
    assert found["summary"] == default_outcome["summary"]
    missing = default_outcome["requests"] - found["requests"]
    extra = found["requests"] - default_outcome["requests"]
    assert (sum(missing.values()), sum(extra.values())) == (0, 0)
    assert found["dead_letters"] == default_outcome["dead_letters"]


@pytest.mark.parametrize("mode", REFUSED_MODES)
def test_refused_mode_fails_at_start_up_naming_the_flag(mode, export, tmp_path, capsys):
    mode_args, message = REFUSED_MODES[mode]
    code = run(job_args(export, tmp_path) + ["--dead_letter", str(tmp_path / "dead-letter")] + mode_args,
               environ={})
    assert code == 2
    assert f"configuration error: {message}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before anything was read or written


def _preview_lines(out: Path) -> collections.Counter:
    return collections.Counter(line for path in sorted(glob.glob(f"{out}/preview-*.jsonl"))
                               for line in Path(path).read_text(encoding="utf-8").splitlines())


def test_a_local_backfill_spills_its_events_and_through_the_shuffle_gives_the_same(
        export, default_outcome, tmp_path, monkeypatch):
    """A local run sends its events to the per-user step through spill files (transforms.shuffle.spill)
    in a directory of its own, gone after the run; the same run with the events through Beam's
    shuffle instead (as on Dataflow) gives the default's requests, line for line."""
    import tempfile
    import pipeline.main
    from transforms.shuffle import spill
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    spilled_bytes = []
    write = spill.SpillFile.write

    def counted_write(self, chunks):
        block = b"".join(chunks)
        spilled_bytes.append(len(block))
        return write(self, [block])
    monkeypatch.setattr(spill.SpillFile, "write", counted_write)
    results = {}
    for name in ("spilled", "shuffled"):
        if name == "shuffled":
            monkeypatch.setattr(pipeline.main, "with_event_travel", lambda config, through_shuffle, size: config)
        out = tmp_path / name
        spilled_bytes.clear()
        assert run(job_args(export, out) + ["--dead_letter", str(out / "dead-letter")], environ={}) == 0
        results[name] = (_preview_lines(out), sum(spilled_bytes))
        assert not list(spill_root.iterdir())   # the run's spill directory is gone
    assert results["spilled"][1] > 100_000 and results["shuffled"][1] == 0
    assert results["spilled"][0] == results["shuffled"][0] == default_outcome["requests"]
