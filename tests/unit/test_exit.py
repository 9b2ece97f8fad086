"""The CLI's fast exit: only after a local backfill has written everything, and never for a
library call of run()."""
import pytest

from pipeline import main


class _Stream:
    def __init__(self, log, name):
        self._log, self._name = log, name

    def write(self, text):
        return len(text)

    def flush(self):
        self._log.append(f"flush {self._name}")


class _Exited(Exception):
    pass


def _record_exit(log):
    def fake_exit(code):
        log.append(f"_exit {code}")
        raise _Exited()
    return fake_exit


def test_after_a_local_backfill_it_flushes_then_skips_the_teardown(monkeypatch):
    log = []
    monkeypatch.setattr(main, "_outputs_complete", True)
    monkeypatch.setattr(main.sys, "stdout", _Stream(log, "stdout"))
    monkeypatch.setattr(main.sys, "stderr", _Stream(log, "stderr"))
    monkeypatch.setattr(main.os, "_exit", _record_exit(log))
    with pytest.raises(_Exited):
        main.exit_process(1)
    assert log[-3:] == ["flush stdout", "flush stderr", "_exit 1"]


def test_otherwise_it_exits_normally(monkeypatch):
    log = []
    monkeypatch.setattr(main, "_outputs_complete", False)
    monkeypatch.setattr(main.os, "_exit", _record_exit(log))
    with pytest.raises(SystemExit) as exited:
        main.exit_process(3)
    assert exited.value.code == 3 and log == []


def test_a_run_that_does_not_finish_a_backfill_does_not_allow_it(monkeypatch, capsys):
    monkeypatch.setattr(main, "_outputs_complete", True)   # left over from an earlier run()
    assert main.run(["--input", "/nonexistent/*.jsonl", "--preview", "p"], environ={}) == 2
    assert main._outputs_complete is False
