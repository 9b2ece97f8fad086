"""The streaming job end to end: real Segment events published over real gRPC to Google's
Pub/Sub emulator (or the stand-in where it is missing: tests/pubsub_service.py), the CLI on the
local runner, delivery over real HTTP to the sandbox."""
import time

from tests.conftest import ACCESS_KEY
from tests.e2e.streaming import (DeadLetters, job_output, publish, start_job, stop_job,
                                 summary_counts, wait_for)


def test_streaming_delivers_each_event_once_with_its_account(pubsub_topics, sandbox):
    dead_letters = DeadLetters(pubsub_topics)
    job = start_job(pubsub_topics, sandbox)
    try:
        identify = {"type": "identify", "userId": "u1", "messageId": "s-i1", "traits": {"accountId": "ACC-1"},
                    "timestamp": "2024-11-01T10:00:00Z"}
        track = {"type": "track", "userId": "u1", "messageId": "s-t1", "event": "order_completed",
                 "timestamp": "2024-11-01T10:05:00Z"}
        publish(pubsub_topics.topic, [identify])
        wait_for(lambda: len(sandbox.received()) == 1, what="the identify", job=job)
        publish(pubsub_topics.topic, [
            track, track,                                                               # redelivered copy
            {"type": "track", "userId": "u2", "messageId": "s-t2", "event": "Signed Up",
             "integrations": {"Gainsight": False}},                                       # opted out
            {"type": "track", "userId": "u2", "messageId": "s-t3", "event": "Dashboard Viewed"},  # filtered
            {"type": "page", "userId": "u2", "messageId": "s-p1"},                          # unsupported
            {"type": "page", "userId": "u2", "messageId": "s-p1"},                          # its copy too
            b'{"type": "track", "userId": ',                                                # invalid
            {"type": "group", "userId": "u3", "messageId": "s-g1", "groupId": "ACC-3"}])
        wait_for(lambda: len(sandbox.received()) >= 3, what="the track and the group", job=job)
        wait_for(lambda: len(dead_letters.read()) >= 1, what="the dead letter", job=job)
        time.sleep(3)  # anything sent twice would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    received = {m["messageId"]: m for m in sandbox.received()}
    assert len(sandbox.received()) == 3, stderr[-3000:]
    assert sorted(received) == ["s-g1", "s-i1", "s-t1"]
    assert received["s-t1"]["properties"]["accountId"] == "ACC-1"
    dead = dead_letters.read()
    assert [(r["stage"], r["raw"]) for r in dead] == [("parse", '{"type": "track", "userId": ')]
    counts = summary_counts(stdout)
    assert "read" in counts, "no summary table after the stop\n" + job_output(stdout, stderr)
    assert {k: counts[k] for k in ("read", "duplicates", "skipped_by_integrations", "filtered", "unsupported",
                                   "invalid", "delivered")} == {
        "read": "9", "duplicates": "1", "skipped_by_integrations": "1", "filtered": "1", "unsupported": "2",
        "invalid": "1", "delivered": "3"}
    assert ACCESS_KEY not in stdout + stderr


def test_streaming_waits_out_an_outage_and_dead_letters_nothing(pubsub_topics, start_sandbox):
    sandbox = start_sandbox()
    job = start_job(pubsub_topics, sandbox)
    try:
        publish(pubsub_topics.topic,
                [{"type": "identify", "userId": "u1", "messageId": "o-i1", "traits": {"accountId": "ACC-1"}}])
        wait_for(lambda: len(sandbox.received()) == 1, what="the first event", job=job)
        sandbox.set_faults(outage_after_seconds=0, outage_seconds=15)   # down from now, for 15 s
        tracks = [{"type": "track", "userId": "u1", "messageId": f"o-t{n}", "event": "Signed Up"}
                  for n in range(8)]
        publish(pubsub_topics.topic, tracks)
        wait_for(lambda: sandbox.stats()["outage"]["503"] + sandbox.stats()["outage"]["drop"] >= 3,
                 what="requests during the outage", job=job)
        wait_for(lambda: len(sandbox.received()) == 9, what="every event after the outage", job=job)
        time.sleep(2)  # anything sent twice would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    received = [m["messageId"] for m in sandbox.received()]
    assert sorted(received) == sorted(["o-i1"] + [t["messageId"] for t in tracks]), stderr[-3000:]
    assert DeadLetters(pubsub_topics).read(wait_seconds=3) == []
    assert "destination unreachable" in stderr
