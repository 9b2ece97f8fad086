"""The streaming job with --destination_filters, --transform and --from/--to: events published over
real gRPC to Google's Pub/Sub emulator (the stand-in where it is missing: tests/pubsub_service.py),
the CLI on the local runner, delivery to the sandbox."""
import json
import time

from tests.conftest import ACCESS_KEY
from tests.e2e.streaming import DeadLetters, publish, start_job, stop_job, summary_counts, wait_for

FILTERS = [
    {"title": "No internal", "if": "contains( traits.email, '@internal.example' )", "actions": [{"type": "DROP"}]},
    {"title": "No emails", "if": "type = 'identify'",
     "actions": [{"type": "DROP_PROPERTIES", "fields": {"traits": ["email"]}}]},
]
TRANSFORM = '''
def shape(event):
    if event.get("properties", {}).get("explode"):
        raise RuntimeError("boom")
    if event["type"] == "track":
        properties = event.setdefault("properties", {})
        properties["shaped"] = properties.get("accountId")
    return event
'''


def test_streaming_applies_window_filters_and_transform(pubsub_topics, sandbox, tmp_path):
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps(FILTERS))
    script = tmp_path / "shape.py"
    script.write_text(TRANSFORM)
    dead_letters = DeadLetters(pubsub_topics)
    job = start_job(pubsub_topics, sandbox, "--destination_filters", str(filters), "--transform", f"{script}:shape",
                    "--from", "2024-11-01", "--to", "2024-11-02")
    try:
        publish(pubsub_topics.topic, [
            {"type": "identify", "userId": "u1", "messageId": "s-i1", "timestamp": "2024-11-01T10:00:00Z",
             "traits": {"accountId": "ACC-1", "email": "a@x.example"}},
            {"type": "identify", "userId": "u2", "messageId": "s-i2", "timestamp": "2024-11-01T10:00:00Z",
             "traits": {"accountId": "ACC-INT", "email": "qa@internal.example"}},       # dropped: teaches nothing
            {"type": "track", "userId": "u1", "messageId": "s-old", "event": "Signed Up",
             "timestamp": "2024-10-31T23:59:59Z"},                                        # out of window
        ])
        wait_for(lambda: len(sandbox.received()) == 1, what="the identify", job=job)
        publish(pubsub_topics.topic, [
            {"type": "track", "userId": "u1", "messageId": "s-t1", "event": "Order Completed",
             "timestamp": "2024-11-01T10:05:00Z"},
            {"type": "track", "userId": "u2", "messageId": "s-t2", "event": "Order Completed",
             "timestamp": "2024-11-01T10:06:00Z"},
            {"type": "track", "userId": "u1", "messageId": "s-t3", "event": "Order Completed",
             "timestamp": "2024-11-01T10:07:00Z", "properties": {"explode": True}},
        ])
        wait_for(lambda: len(sandbox.received()) >= 3 and len(dead_letters.read()) >= 1,
                 what="the tracks and the dead letter", job=job)
        time.sleep(3)
    finally:
        stdout, stderr = stop_job(job)
        print(stdout[-3000:], stderr[-5000:].replace(ACCESS_KEY, "<key>"))
    received = {m["messageId"]: m for m in sandbox.received()}
    assert len(sandbox.received()) == 3, stderr[-3000:]
    assert received["s-i1"]["traits"] == {"accountId": "ACC-1"}
    assert received["s-t1"]["properties"] == {"accountId": "ACC-1", "shaped": "ACC-1"}
    assert received["s-t2"]["properties"] == {"shaped": None}      # u2's dropped identify taught nothing
    dead = dead_letters.read()
    assert [(r["stage"], r["reason"], r["event"]["messageId"]) for r in dead] == [
        ("transform", "RuntimeError: boom", "s-t3")]
    counts = summary_counts(stdout)
    assert {k: counts[k] for k in ("read", "out_of_window", "dropped_by_filter", "dead_lettered", "delivered")} == {
        "read": "6", "out_of_window": "1", "dropped_by_filter": "1", "dead_lettered": "1", "delivered": "3"}
    assert "dropped_by_filter.No internal" in stdout
    assert ACCESS_KEY not in stdout + stderr
