"""What Pub/Sub itself does to a stream, seen by the real CLI: leases that run out, seeks that
deliver acknowledged messages again, bursts, and a job stopped and started again.

Each test asserts at the sandbox message by message. The redelivery test needs Google's
emulator (the stand-in has no Seek); the others run against whichever the session uses.
"""
import dataclasses
import datetime
import json
import signal
import time

from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from tests.e2e.streaming import (job_output, message_ids, publish, start_job, stop_job,
                                 summary_counts, wait_for)
from tests.pubsub_service import emulator_only

ACK_DEADLINE_SECONDS = 10  # the service's default and its minimum


def track(message_id: str, user: str = "u1") -> dict:
    return {"type": "track", "userId": user, "messageId": message_id, "event": "Signed Up",
            "properties": {"accountId": "ACC-1"}, "timestamp": "2026-11-01T10:00:00Z"}


def replayable(topics) -> object:
    """The topics with a job subscription that keeps acknowledged messages (so a seek back in
    time delivers them again), ack deadline ACK_DEADLINE_SECONDS."""
    subscription = topics.subscription + "-replayable"
    with pubsub_v1.SubscriberClient() as subscriber:
        subscriber.create_subscription(request={
            "name": subscription, "topic": topics.topic, "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
            "retain_acked_messages": True,
            "message_retention_duration": duration_pb2.Duration(seconds=3600)})
    return dataclasses.replace(topics, subscription=subscription)


def test_a_lapsed_lease_and_a_seek_back_redeliver_yet_each_event_is_delivered_once(
        pubsub_topics, sandbox):
    emulator_only(pubsub_topics)
    topics = replayable(pubsub_topics)
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    events = [track(f"r-{n}") for n in range(5)]
    for event in events:  # one at a time: the stalled reader below gets the oldest
        publish(topics.topic, [event])
    # A reader that takes a message and stalls (a slow consumer, a worker that hung) holds its
    # lease and never acknowledges: Pub/Sub gives the message to the job only once it lapses.
    with pubsub_v1.SubscriberClient() as stalled:
        leased = stalled.pull(subscription=topics.subscription, max_messages=1, timeout=30)
    leased_at = time.time()
    [held] = [m.message.data for m in leased.received_messages]
    assert json.loads(held) == events[0]
    job = start_job(topics, sandbox)
    try:
        wait_for(lambda: sorted(message_ids(sandbox)) == [e["messageId"] for e in events],
                 what="every event, the leased one after its lease lapsed", job=job)
        # Every message again, with its message id and publish time, as after a crash that
        # lost the acknowledgements: a seek back to before they were published.
        with pubsub_v1.SubscriberClient() as subscriber:
            subscriber.seek(request={"subscription": topics.subscription, "time": before})
        publish(topics.topic, [track("r-after-seek")])
        wait_for(lambda: "r-after-seek" in message_ids(sandbox), what="the event after the seek", job=job)
        time.sleep(3)  # a copy sent again would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    assert message_ids(sandbox).count("r-0") == 1, job_output(stdout, stderr)
    assert sorted(message_ids(sandbox)) == sorted([e["messageId"] for e in events] + ["r-after-seek"])
    assert sandbox.accepted_at()["r-0"] >= leased_at + ACK_DEADLINE_SECONDS - 1
    counts = summary_counts(stdout)
    assert (counts.get("read"), counts.get("duplicates"), counts.get("delivered")) == ("11", "5", "6"), \
        job_output(stdout, stderr)


def test_a_burst_larger_than_the_runners_pull_is_all_delivered_once(pubsub_topics, sandbox):
    burst = [track(f"b-{n}", user=f"u{n % 7}") for n in range(120)]  # the local runner pulls 10 at a time
    job = start_job(pubsub_topics, sandbox)
    try:
        publish(pubsub_topics.topic, [track("b-warm-up")])
        wait_for(lambda: message_ids(sandbox) == ["b-warm-up"], what="the job to start", job=job)
        publish(pubsub_topics.topic, burst)
        wait_for(lambda: len(message_ids(sandbox)) >= 1 + len(burst), what="the whole burst", job=job)
        time.sleep(3)  # a copy sent twice would have arrived by now
    finally:
        stdout, stderr = stop_job(job)
    assert sorted(message_ids(sandbox)) == sorted(["b-warm-up"] + [e["messageId"] for e in burst]), \
        job_output(stdout, stderr)
    counts = summary_counts(stdout)
    assert (counts.get("read"), counts.get("delivered")) == ("121", "121"), job_output(stdout, stderr)


def test_a_job_stopped_and_started_again_loses_nothing_it_had_not_acknowledged(pubsub_topics, sandbox):
    before = [track(f"s-a{n}") for n in range(15)]
    while_down = [track(f"s-b{n}") for n in range(15)]
    after = [track(f"s-c{n}") for n in range(5)]
    first = start_job(pubsub_topics, sandbox)
    try:
        publish(pubsub_topics.topic, before)
        wait_for(lambda: len(message_ids(sandbox)) >= len(before), what="the first job's events", job=first)
    finally:
        first_out, first_err = stop_job(first, signal.SIGTERM)  # as a service manager stops it
    assert sorted(message_ids(sandbox)) == sorted(e["messageId"] for e in before), \
        job_output(first_out, first_err)
    publish(pubsub_topics.topic, while_down)  # kept by the subscription while no job reads it
    second = start_job(pubsub_topics, sandbox)
    try:
        expected = len(before) + len(while_down)
        wait_for(lambda: len(message_ids(sandbox)) >= expected, what="what was published while down", job=second)
        publish(pubsub_topics.topic, after)
        wait_for(lambda: len(message_ids(sandbox)) >= expected + len(after), what="the later events", job=second)
        time.sleep(3)  # a copy sent twice would have arrived by now
    finally:
        second_out, second_err = stop_job(second)
    assert sorted(message_ids(sandbox)) == sorted(e["messageId"] for e in before + while_down + after), \
        job_output(second_out, second_err)
    assert summary_counts(second_out).get("read") == str(len(while_down) + len(after)), \
        job_output(second_out, second_err)


def test_the_local_runners_empty_pulls_end_within_seconds_and_full_ones_bring_the_messages(pubsub_topics):
    from apache_beam.runners.direct.transform_evaluator import _PubSubReadEvaluator

    from pipeline.processes.pubsub_pull import ShortPulls, shorten_local_pulls

    class Transform:  # what the runner keys its cached client by
        pass

    assert shorten_local_pulls()
    transform = Transform()  # the runner closes the client once its transform is gone
    client = _PubSubReadEvaluator._get_subscriber_client(transform)  # pylint: disable=protected-access
    assert isinstance(client, ShortPulls)
    started = time.monotonic()
    empty = client.pull(subscription=pubsub_topics.subscription, max_messages=10, timeout=30)
    assert list(empty.received_messages) == []
    assert time.monotonic() - started < 30 / 2  # Beam's own pull would have waited 30 s
    publish(pubsub_topics.topic, [track(f"p-{n}") for n in range(12)])
    first = client.pull(subscription=pubsub_topics.subscription, max_messages=10, timeout=30)
    ids = [json.loads(m.message.data)["messageId"] for m in first.received_messages]
    assert 1 <= len(ids) <= 10 and set(ids) <= {f"p-{n}" for n in range(12)}
