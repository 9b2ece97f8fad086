"""The streaming job end to end: real Segment events published over real gRPC to a Pub/Sub
stand-in, the CLI on the local runner, delivery over real HTTP to the sandbox."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from google.cloud import pubsub_v1

from sandbox.pubsub import PubSubStandIn
from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT

PROJECT = "demo-project"
TOPIC = f"projects/{PROJECT}/topics/segment"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/segment-to-gainsight"
DEAD_TOPIC = f"projects/{PROJECT}/topics/segment-dead-letter"
DEAD_SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/dead-letter-audit"
WAIT_SECONDS = 120


def wait_for(condition, seconds=WAIT_SECONDS, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@pytest.fixture
def pubsub(monkeypatch):
    with PubSubStandIn() as standin:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", standin.host)
        standin.create_topic(TOPIC)
        standin.create_subscription(SUBSCRIPTION, TOPIC)
        standin.create_topic(DEAD_TOPIC)
        standin.create_subscription(DEAD_SUBSCRIPTION, DEAD_TOPIC)
        yield standin


def start_job(pubsub, sandbox, *extra):
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub.host, "GAINSIGHT_ACCESS_KEY": ACCESS_KEY}
    argv = [sys.executable, "-m", "pipeline", "--input_subscription", SUBSCRIPTION,
            "--dead_letter_topic", DEAD_TOPIC, "--gainsight_endpoint", sandbox.url,
            "--track_whitelist", "Order Completed,Signed Up", "--max_buffering_seconds", "1",
            "--project", PROJECT, *extra]
    # Ctrl-C must reach the job even when this test runs where SIGINT is ignored (a background
    # CI job), which a child inherits and which keeps Python from raising KeyboardInterrupt.
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_job(job):
    job.send_signal(signal.SIGINT)
    try:
        return job.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        job.kill()
        return job.communicate()


def publish(events):
    publisher = pubsub_v1.PublisherClient()
    for event in events:
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        publisher.publish(TOPIC, data).result(timeout=10)


def test_streaming_delivers_each_event_once_with_its_account(pubsub, sandbox):
    job = start_job(pubsub, sandbox)
    try:
        identify = {"type": "identify", "userId": "u1", "messageId": "s-i1", "traits": {"accountId": "ACC-1"},
                    "timestamp": "2024-11-01T10:00:00Z"}
        track = {"type": "track", "userId": "u1", "messageId": "s-t1", "event": "order_completed",
                 "timestamp": "2024-11-01T10:05:00Z"}
        publish([identify])
        wait_for(lambda: len(sandbox.received()) == 1, what="the identify")
        publish([track, track,                                                # redelivered copy
                 {"type": "track", "userId": "u2", "messageId": "s-t2", "event": "Signed Up",
                  "integrations": {"Gainsight": False}},                       # opted out
                 {"type": "track", "userId": "u2", "messageId": "s-t3", "event": "Dashboard Viewed"},  # filtered
                 {"type": "page", "userId": "u2", "messageId": "s-p1"},         # unsupported
                 {"type": "page", "userId": "u2", "messageId": "s-p1"},         # its copy: unsupported too
                 b'{"type": "track", "userId": ',                               # invalid
                 {"type": "group", "userId": "u3", "messageId": "s-g1", "groupId": "ACC-3"}])
        wait_for(lambda: len(sandbox.received()) >= 3, what="the track and the group")
        wait_for(lambda: len(pubsub.published(DEAD_TOPIC)) >= 1, what="the dead letter")
        time.sleep(3)  # anything sent twice would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    received = {m["messageId"]: m for m in sandbox.received()}
    assert len(sandbox.received()) == 3, stderr[-3000:]
    assert sorted(received) == ["s-g1", "s-i1", "s-t1"]
    assert received["s-t1"]["properties"]["accountId"] == "ACC-1"
    dead = [json.loads(data) for data, _ in pubsub.published(DEAD_TOPIC)]
    assert [(r["stage"], r["raw"]) for r in dead] == [("parse", '{"type": "track", "userId": ')]
    counts = dict(line.split() for line in stdout.splitlines() if len(line.split()) == 2)
    assert "read" in counts, (f"no summary table after the stop\nstdout:\n{stdout[-2000:]}\n"
                              f"stderr:\n{stderr[-4000:]}").replace(ACCESS_KEY, "<the access key>")
    assert {k: counts[k] for k in ("read", "duplicates", "skipped_by_integrations", "filtered", "unsupported",
                                   "invalid", "delivered")} == {
        "read": "9", "duplicates": "1", "skipped_by_integrations": "1", "filtered": "1", "unsupported": "2",
        "invalid": "1", "delivered": "3"}
    assert ACCESS_KEY not in stdout + stderr


def test_streaming_waits_out_an_outage_and_dead_letters_nothing(pubsub, start_sandbox):
    sandbox = start_sandbox()
    job = start_job(pubsub, sandbox)
    try:
        publish([{"type": "identify", "userId": "u1", "messageId": "o-i1", "traits": {"accountId": "ACC-1"}}])
        wait_for(lambda: len(sandbox.received()) == 1, what="the first event")
        sandbox.set_faults(outage_after_seconds=0, outage_seconds=15)   # down from now, for 15 s
        tracks = [{"type": "track", "userId": "u1", "messageId": f"o-t{n}", "event": "Signed Up"}
                  for n in range(8)]
        publish(tracks)
        wait_for(lambda: sandbox.stats()["outage"]["503"] + sandbox.stats()["outage"]["drop"] >= 3,
                 what="requests during the outage")
        wait_for(lambda: len(sandbox.received()) == 9, what="every event after the outage")
        time.sleep(2)  # anything sent twice would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    received = [m["messageId"] for m in sandbox.received()]
    assert sorted(received) == sorted(["o-i1"] + [t["messageId"] for t in tracks]), stderr[-3000:]
    assert pubsub.published(DEAD_TOPIC) == []
    assert "destination unreachable" in stderr
