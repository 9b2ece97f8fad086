"""The Pub/Sub stand-in, driven by the real google-cloud-pubsub clients and by Apache Beam.

Every test starts its own stand-in on 127.0.0.1 and points PUBSUB_EMULATOR_HOST at it.
"""
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from sandbox.pubsub import PubSubStandIn

PROJECT = "projects/demo-project"  # Beam wants project ids of 6 to 30 characters
TOPIC = f"{PROJECT}/topics/segment"
SUBSCRIPTION = f"{PROJECT}/subscriptions/segment-in"


@pytest.fixture
def pubsub(monkeypatch):
    with PubSubStandIn() as running:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", running.host)
        yield running


@pytest.fixture
def publisher(pubsub):
    client = pubsub_v1.PublisherClient()
    yield client
    client.stop()


@pytest.fixture
def subscriber(pubsub):
    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()


def publish(publisher, topic, messages):
    """messages: [(data, attributes)] -> message ids, once the stand-in has them all."""
    futures = [publisher.publish(topic, data, **attributes) for data, attributes in messages]
    return [future.result(timeout=60) for future in futures]


def pull_until(subscriber, subscription, count, timeout=10.0):
    """ReceivedMessages from synchronous pulls, until `count` arrived or `timeout` passed."""
    received = []
    give_up = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < give_up:
        response = subscriber.pull(
            subscription=subscription, max_messages=count - len(received), timeout=5
        )
        received.extend(response.received_messages)
    return received


def test_publish_pull_ack_and_no_redelivery(pubsub, publisher, subscriber):
    publisher.create_topic(name=TOPIC)
    subscriber.create_subscription(name=SUBSCRIPTION, topic=TOPIC, ack_deadline_seconds=1)
    messages = [(f'{{"n": {n}}}'.encode(), {"type": "track", "n": str(n)}) for n in range(5)]

    message_ids = publish(publisher, TOPIC, messages)
    received = pull_until(subscriber, SUBSCRIPTION, 5)

    assert len(set(message_ids)) == 5
    assert [(r.message.data, dict(r.message.attributes)) for r in received] == messages
    assert [r.message.message_id for r in received] == message_ids
    assert all(r.message.publish_time.year >= 2024 for r in received)
    subscriber.acknowledge(subscription=SUBSCRIPTION, ack_ids=[r.ack_id for r in received])
    time.sleep(1.5)  # past the 1 s ack deadline
    assert pull_until(subscriber, SUBSCRIPTION, 1, timeout=0.5) == []
    assert pubsub.published(TOPIC) == messages
    assert pubsub.stats()["acked"] == 5
    assert pubsub.stats()["expired"] == 0


def test_unacked_message_is_redelivered_after_its_ack_deadline(pubsub, publisher, subscriber):
    pubsub.create_topic(TOPIC)
    pubsub.create_subscription(SUBSCRIPTION, TOPIC, ack_deadline_seconds=1)
    publish(publisher, TOPIC, [(b"kept", {}), (b"dropped", {})])

    started = time.monotonic()
    first = pull_until(subscriber, SUBSCRIPTION, 2)
    subscriber.acknowledge(subscription=SUBSCRIPTION, ack_ids=[first[0].ack_id])
    again = pull_until(subscriber, SUBSCRIPTION, 1)

    assert time.monotonic() - started >= 1.0
    assert [r.message.data for r in again] == [b"dropped"]
    assert again[0].message.message_id == first[1].message.message_id
    assert again[0].ack_id != first[1].ack_id
    assert pubsub.stats()["expired"] == 1


def test_nack_redelivers_at_once_and_extension_holds_the_lease(pubsub, publisher, subscriber):
    pubsub.create_topic(TOPIC)
    pubsub.create_subscription(SUBSCRIPTION, TOPIC, ack_deadline_seconds=1)
    publish(publisher, TOPIC, [(b"nacked", {}), (b"extended", {})])
    nacked, extended = pull_until(subscriber, SUBSCRIPTION, 2)
    both = [nacked.ack_id, extended.ack_id]

    subscriber.modify_ack_deadline(
        subscription=SUBSCRIPTION, ack_ids=both, ack_deadline_seconds=30
    )
    subscriber.modify_ack_deadline(
        subscription=SUBSCRIPTION, ack_ids=[nacked.ack_id], ack_deadline_seconds=0
    )
    again = pull_until(subscriber, SUBSCRIPTION, 1, timeout=5)  # long before the 30 s lease ends

    assert [r.message.data for r in again] == [b"nacked"]
    time.sleep(1.2)  # the original 1 s deadline has passed; the extended lease still holds
    subscriber.acknowledge(subscription=SUBSCRIPTION, ack_ids=[again[0].ack_id])
    assert pull_until(subscriber, SUBSCRIPTION, 1, timeout=0.5) == []
    assert pubsub.stats()["nacked"] == 1


def test_fan_out_to_every_subscription_existing_at_publish_time(pubsub, publisher, subscriber):
    pubsub.create_topic(TOPIC)
    first, second, late = (f"{PROJECT}/subscriptions/{n}" for n in ("first", "second", "late"))
    pubsub.create_subscription(first, TOPIC)
    pubsub.create_subscription(second, TOPIC)
    publish(publisher, TOPIC, [(b"one", {"k": "1"}), (b"two", {"k": "2"})])
    pubsub.create_subscription(late, TOPIC)

    for subscription in (first, second):
        assert [r.message.data for r in pull_until(subscriber, subscription, 2)] == [b"one", b"two"]
    assert pull_until(subscriber, late, 1, timeout=0.5) == []


def test_errors_carry_grpc_status_codes(pubsub, publisher, subscriber):
    missing_subscription = f"{PROJECT}/subscriptions/missing"
    with pytest.raises(exceptions.NotFound):
        subscriber.pull(subscription=missing_subscription, max_messages=1, timeout=5)
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(subscription=missing_subscription)
    with pytest.raises(exceptions.NotFound):
        subscriber.create_subscription(name=SUBSCRIPTION, topic=TOPIC)
    with pytest.raises(exceptions.NotFound):
        publisher.publish(TOPIC, b"nowhere").result(timeout=10)

    publisher.create_topic(name=TOPIC)
    subscriber.create_subscription(name=SUBSCRIPTION, topic=TOPIC)
    with pytest.raises(exceptions.AlreadyExists):
        publisher.create_topic(name=TOPIC)
    with pytest.raises(exceptions.AlreadyExists):
        subscriber.create_subscription(name=SUBSCRIPTION, topic=TOPIC)
    with pytest.raises(exceptions.InvalidArgument):
        publisher.create_topic(name="not-a-topic-path")

    assert publisher.get_topic(topic=TOPIC).name == TOPIC
    assert subscriber.get_subscription(subscription=SUBSCRIPTION).ack_deadline_seconds == 10
    subscriber.delete_subscription(subscription=SUBSCRIPTION)
    publisher.delete_topic(topic=TOPIC)
    with pytest.raises(exceptions.NotFound):
        publisher.get_topic(topic=TOPIC)


def test_streaming_pull_delivers_to_a_subscriber_callback(pubsub, publisher, subscriber):
    pubsub.create_topic(TOPIC)
    pubsub.create_subscription(SUBSCRIPTION, TOPIC)
    messages = [(f"m{n}".encode(), {"n": str(n)}) for n in range(20)]
    received, all_arrived = [], threading.Event()

    def callback(message):
        received.append((message.data, dict(message.attributes)))
        message.ack()
        if len(received) == len(messages):
            all_arrived.set()

    streaming = subscriber.subscribe(SUBSCRIPTION, callback)
    try:
        publish(publisher, TOPIC, messages)
        assert all_arrived.wait(timeout=60)
    finally:
        streaming.cancel()
        streaming.result(timeout=60)

    assert sorted(received) == sorted(messages)
    assert pubsub.stats()["StreamingPull"] >= 1
    give_up = time.monotonic() + 30  # acks travel as unary Acknowledge calls, sent in batches
    while pubsub.stats()["acked"] < len(messages) and time.monotonic() < give_up:
        time.sleep(0.1)
    assert pubsub.stats()["acked"] == len(messages)


def test_beam_streaming_pipeline_reads_and_writes_through_the_stand_in(pubsub, publisher):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    output_topic = f"{PROJECT}/topics/segment-out"
    pubsub.create_topic(TOPIC)
    pubsub.create_topic(output_topic)
    pubsub.create_subscription(SUBSCRIPTION, TOPIC)
    messages = [(f"event-{n}".encode(), {"n": str(n)}) for n in range(12)]
    # The local DirectRunner downloads a Prism binary; the bundle-based one runs in-process.
    options = PipelineOptions(
        flags=[], runner="BundleBasedDirectRunner", streaming=True, project="demo-project"
    )
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline
        | beam.io.ReadFromPubSub(subscription=SUBSCRIPTION, with_attributes=True)
        | beam.Map(lambda m: beam.io.PubsubMessage(m.data.upper(), m.attributes))
        | beam.io.WriteToPubSub(output_topic, with_attributes=True)
    )
    result = pipeline.run()
    try:
        publish(publisher, TOPIC, messages)
        give_up = time.monotonic() + 60
        while len(pubsub.published(output_topic)) < len(messages) and time.monotonic() < give_up:
            time.sleep(0.2)
    finally:
        result.cancel()

    expected = [(data.upper(), attributes) for data, attributes in messages]
    assert sorted(pubsub.published(output_topic), key=repr) == sorted(expected, key=repr)
    stats = pubsub.stats()
    assert stats["Pull"] >= 1 and stats["acked"] == len(messages) and stats["expired"] == 0


def test_cli_serves_until_sigterm(tmp_path, monkeypatch):
    port_file = tmp_path / "port"
    root = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(
        [sys.executable, "-m", "sandbox.pubsub", "--port", "0", "--port_file", str(port_file)],
        cwd=root, stdout=subprocess.PIPE, text=True,
    )
    try:
        give_up = time.monotonic() + 60
        while not port_file.exists() and time.monotonic() < give_up and server.poll() is None:
            time.sleep(0.1)
        host = f"127.0.0.1:{port_file.read_text().strip()}"
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        publisher = pubsub_v1.PublisherClient()
        assert publisher.create_topic(name=TOPIC).name == TOPIC
        publisher.stop()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0
    assert output == f"pubsub stand-in listening on {host}\n"
