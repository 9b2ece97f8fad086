"""sandbox/pubsub_emulator.py: which Pub/Sub a run gets, and that Google's emulator (a JVM in its
own process group) is gone after the block, after a failure inside it, and after its parent is
killed outright."""
import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from google.cloud import pubsub_v1

from sandbox import pubsub_emulator
from sandbox.pubsub_emulator import (CHOICE_VARIABLE, PATH_VARIABLE, EmulatorAdmin, emulator_path,
                                     planned_kind, start_pubsub)
from tests.e2e.cli import ROOT, running

TOPIC = "projects/demo-project/topics/segment"
SUBSCRIPTION = "projects/demo-project/subscriptions/segment-in"
needs_emulator = pytest.mark.skipif(
    not os.access(pubsub_emulator.EMULATOR_PATH, os.X_OK),
    reason=f"Google's Pub/Sub emulator is not installed ({pubsub_emulator.EMULATOR_PATH})")


def test_the_choice_variable_selects_the_standin(monkeypatch):
    monkeypatch.setenv(CHOICE_VARIABLE, "standin")
    assert emulator_path() is None
    assert planned_kind() == "stand-in"


def test_a_missing_launcher_selects_the_standin(monkeypatch, tmp_path):
    monkeypatch.delenv(CHOICE_VARIABLE, raising=False)
    monkeypatch.setenv(PATH_VARIABLE, str(tmp_path / "no-emulator-here"))
    assert emulator_path() is None
    with start_pubsub() as pubsub:
        assert pubsub.kind == "stand-in"
        pubsub.create_topic(TOPIC)
        pubsub.create_subscription(SUBSCRIPTION, TOPIC)
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub.host)
        pubsub_v1.PublisherClient().publish(TOPIC, b'{"n": 1}').result(timeout=10)
        assert pubsub.pull(SUBSCRIPTION, wait_seconds=1) == [(b'{"n": 1}', {})]


def test_an_executable_launcher_selects_the_emulator(monkeypatch, tmp_path):
    launcher = tmp_path / "cloud-pubsub-emulator"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.delenv(CHOICE_VARIABLE, raising=False)
    monkeypatch.setenv(PATH_VARIABLE, str(launcher))
    assert emulator_path() == str(launcher)


@needs_emulator
def test_the_emulator_serves_the_clients_and_is_stopped_after_a_failure_in_the_block(monkeypatch):
    with pytest.raises(RuntimeError, match="inside the block"):
        with EmulatorAdmin(pubsub_emulator.EMULATOR_PATH) as pubsub:
            pid = pubsub.process.pid
            pubsub.create_topic(TOPIC)
            pubsub.create_subscription(SUBSCRIPTION, TOPIC)
            monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub.host)
            pubsub_v1.PublisherClient().publish(TOPIC, b"one").result(timeout=10)
            assert pubsub.pull(SUBSCRIPTION, wait_seconds=1) == [(b"one", {})]
            raise RuntimeError("a failure inside the block")
    assert not running(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing of its process group is left


@needs_emulator
def test_the_emulator_stops_when_the_process_that_started_it_is_killed():
    script = ("import time\nfrom sandbox.pubsub_emulator import EmulatorAdmin, EMULATOR_PATH\n"
              "emulator = EmulatorAdmin(EMULATOR_PATH).__enter__()\n"
              "print(emulator.process.pid, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert running(pid)
    finally:
        parent.kill()  # SIGKILL: no atexit, no finally
        parent.wait()
    deadline = time.monotonic() + 60
    try:
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(pid)
    finally:  # the test cleans up after a failure too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
