"""In-memory stand-in for Google Cloud Pub/Sub that serves the real gRPC API on loopback.

    with PubSubStandIn() as pubsub:                       # pubsub.host == "127.0.0.1:41234"
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub.host)
        pubsub.create_topic("projects/p/topics/events")
        pubsub.create_subscription("projects/p/subscriptions/events-in", "projects/p/topics/events")
        ...  # real PublisherClient / SubscriberClient, Beam's ReadFromPubSub / WriteToPubSub
        pubsub.published("projects/p/topics/events")      # [(b'{"type": "track"}', {"k": "v"})]
        pubsub.stats()  # {"CreateTopic": 1, "Publish": 2, "Pull": 9, "Acknowledge": 3,
                        #  "delivered": 12, "acked": 10, "expired": 2, "nacked": 0}

    python -m sandbox.pubsub --port 0 --port_file /tmp/pubsub_port
    pubsub stand-in listening on 127.0.0.1:41235

What it keeps of the real service's behaviour:
- a message published to a topic goes to every subscription of that topic existing at publish
  time, with a fresh message_id and publish_time;
- each delivery has its own ack_id and lease; a lease that runs out (the subscription's
  ack_deadline_seconds for Pull, the stream's stream_ack_deadline_seconds for StreamingPull,
  or what ModifyAckDeadline set) puts the message back for redelivery, and so does a
  ModifyAckDeadline of 0 (a nack); an ack of an unknown or already acked ack_id is ignored;
- Pull returns up to max_messages available messages; with none it waits up to
  PULL_WAIT_SECONDS (unless return_immediately) and then returns an empty response;
- NOT_FOUND for a missing topic or subscription, ALREADY_EXISTS on re-create,
  INVALID_ARGUMENT for malformed names and requests.
Unlike the real service it accepts ack deadlines from 1 s (not 10 s), so tests see redelivery
quickly, and it has no retention limit, ordering, filters, dead-lettering or push delivery.
"""

import argparse
import collections
import dataclasses
import datetime
import itertools
import re
import signal
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Callable

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types

from sandbox.port_file import write_port_file

PULL_WAIT_SECONDS = 1.0  # how long an empty Pull waits for a message
STREAM_WAIT_SECONDS = 0.5  # how often a StreamingPull looks at whether its call has ended
STREAM_BATCH_SIZE = 100  # most messages in one StreamingPullResponse
DEFAULT_ACK_DEADLINE_SECONDS = 10
MAX_ACK_DEADLINE_SECONDS = 600
DELETED_TOPIC = "_deleted-topic_"  # what a subscription's topic reads once the topic is deleted
_WORKERS = 16
_TOPIC_NAME = re.compile(r"projects/[^/]+/topics/[^/]+")
_SUBSCRIPTION_NAME = re.compile(r"projects/[^/]+/subscriptions/[^/]+")
Code = grpc.StatusCode


class PubSubError(Exception):
    """A request the service refuses; sent to the client as this gRPC status."""

    def __init__(self, code: Code, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclasses.dataclass
class _Lease:
    message: types.PubsubMessage
    deadline: float  # time.monotonic() at which the message goes back for redelivery


@dataclasses.dataclass
class _Subscription:
    proto: types.Subscription
    ready: collections.deque = dataclasses.field(default_factory=collections.deque)
    leases: dict[str, _Lease] = dataclasses.field(default_factory=dict)  # by ack_id


class Broker:
    """Topics, subscriptions and messages in memory; every method is thread-safe."""

    def __init__(self):
        self._changed = threading.Condition()  # guards everything below; notified on new messages
        self._topics: dict[str, types.Topic] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._published: dict[str, list[types.PubsubMessage]] = collections.defaultdict(list)
        self._counts: collections.Counter = collections.Counter()
        self._ids = itertools.count(1)

    def count(self, key: str) -> None:
        with self._changed:
            self._counts[key] += 1

    def stats(self) -> dict[str, int]:
        """RPCs served by name ("Pull": 9) and message counts ("delivered", "acked", ...)."""
        with self._changed:
            return {"delivered": 0, "acked": 0, "expired": 0, "nacked": 0, **self._counts}

    def published(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        with self._changed:
            return [(m.data, dict(m.attributes)) for m in self._published[topic]]

    def create_topic(self, topic: types.Topic) -> types.Topic:
        _check_name(topic.name, _TOPIC_NAME, "topic")
        with self._changed:
            if topic.name in self._topics:
                raise PubSubError(Code.ALREADY_EXISTS, f"Topic already exists: {topic.name}")
            self._topics[topic.name] = topic
            return topic

    def get_topic(self, name: str) -> types.Topic:
        with self._changed:
            return self._topic(name)

    def list_topics(self, project: str) -> list[types.Topic]:
        with self._changed:
            prefix = f"{project}/topics/"
            return [t for name, t in sorted(self._topics.items()) if name.startswith(prefix)]

    def delete_topic(self, name: str) -> None:
        with self._changed:
            self._topic(name)
            del self._topics[name]
            for subscription in self._subscriptions.values():
                if subscription.proto.topic == name:
                    subscription.proto.topic = DELETED_TOPIC

    def publish(self, topic: str, messages: list[types.PubsubMessage]) -> list[str]:
        """Store and fan out messages; returns their new message_ids."""
        if not messages:
            raise PubSubError(Code.INVALID_ARGUMENT, "No messages to publish")
        if any(not m.data and not m.attributes for m in messages):
            raise PubSubError(Code.INVALID_ARGUMENT, "A message needs data or attributes")
        now = datetime.datetime.now(datetime.timezone.utc)
        with self._changed:
            self._topic(topic)
            subscribers = [s for s in self._subscriptions.values() if s.proto.topic == topic]
            stored = [
                types.PubsubMessage(
                    data=m.data, attributes=dict(m.attributes), ordering_key=m.ordering_key,
                    message_id=str(next(self._ids)), publish_time=now,
                )
                for m in messages
            ]
            self._published[topic].extend(stored)
            for subscription in subscribers:
                subscription.ready.extend(stored)
            self._changed.notify_all()
            return [m.message_id for m in stored]

    def create_subscription(self, subscription: types.Subscription) -> types.Subscription:
        _check_name(subscription.name, _SUBSCRIPTION_NAME, "subscription")
        if subscription.ack_deadline_seconds == 0:
            subscription.ack_deadline_seconds = DEFAULT_ACK_DEADLINE_SECONDS
        _check_ack_deadline(subscription.ack_deadline_seconds, minimum=1)
        with self._changed:
            self._topic(subscription.topic)
            if subscription.name in self._subscriptions:
                raise PubSubError(
                    Code.ALREADY_EXISTS, f"Subscription already exists: {subscription.name}"
                )
            self._subscriptions[subscription.name] = _Subscription(subscription)
            return subscription

    def get_subscription(self, name: str) -> types.Subscription:
        with self._changed:
            return self._subscription(name).proto

    def delete_subscription(self, name: str) -> None:
        with self._changed:
            self._subscription(name)
            del self._subscriptions[name]

    def pull(
        self, name: str, max_messages: int, wait_seconds: float, ack_deadline_seconds: int = 0
    ) -> list[types.ReceivedMessage]:
        """Lease up to max_messages messages, waiting up to wait_seconds for the first one.

        Each lease lasts ack_deadline_seconds, or the subscription's ack deadline when 0.
        """
        if max_messages <= 0:
            raise PubSubError(Code.INVALID_ARGUMENT, "max_messages must be positive")
        give_up = time.monotonic() + wait_seconds
        with self._changed:
            while True:
                subscription = self._subscription(name)
                now = time.monotonic()
                self._expire_leases(subscription, now)
                if subscription.ready or now >= give_up:
                    deadline = ack_deadline_seconds or subscription.proto.ack_deadline_seconds
                    return self._lease(subscription, max_messages, now + deadline)
                deadlines = [lease.deadline for lease in subscription.leases.values()]
                self._changed.wait(min([give_up, *deadlines]) - now)

    def acknowledge(self, name: str, ack_ids: list[str]) -> None:
        with self._changed:
            leases = self._subscription(name).leases
            self._counts["acked"] += sum(leases.pop(ack_id, None) is not None for ack_id in ack_ids)

    def modify_ack_deadline(self, name: str, ack_ids: list[str], seconds: int) -> None:
        """Extend leases to `seconds` from now; 0 puts the messages back for redelivery (nack)."""
        _check_ack_deadline(seconds, minimum=0)
        with self._changed:
            subscription = self._subscription(name)
            now = time.monotonic()
            for ack_id in ack_ids:
                lease = subscription.leases.get(ack_id)
                if lease is None:
                    continue
                if seconds == 0:
                    del subscription.leases[ack_id]
                    subscription.ready.appendleft(lease.message)
                    self._counts["nacked"] += 1
                else:
                    lease.deadline = now + seconds
            self._changed.notify_all()

    def _topic(self, name: str) -> types.Topic:
        try:
            return self._topics[name]
        except KeyError:
            raise PubSubError(Code.NOT_FOUND, f"Topic not found: {name}") from None

    def _subscription(self, name: str) -> _Subscription:
        try:
            return self._subscriptions[name]
        except KeyError:
            raise PubSubError(Code.NOT_FOUND, f"Subscription does not exist: {name}") from None

    def _expire_leases(self, subscription: _Subscription, now: float) -> None:
        expired = [ack_id for ack_id, lease in subscription.leases.items() if lease.deadline <= now]
        messages = [subscription.leases.pop(ack_id).message for ack_id in expired]
        subscription.ready.extendleft(reversed(messages))
        self._counts["expired"] += len(expired)

    def _lease(
        self, subscription: _Subscription, max_messages: int, deadline: float
    ) -> list[types.ReceivedMessage]:
        received = []
        while subscription.ready and len(received) < max_messages:
            message = subscription.ready.popleft()
            ack_id = f"ack-{next(self._ids)}"
            subscription.leases[ack_id] = _Lease(message, deadline)
            received.append(types.ReceivedMessage(ack_id=ack_id, message=message))
        self._counts["delivered"] += len(received)
        return received


def _check_name(name: str, pattern: re.Pattern, kind: str) -> None:
    if not pattern.fullmatch(name):
        raise PubSubError(Code.INVALID_ARGUMENT, f"Invalid {kind} name: {name!r}")


def _check_ack_deadline(seconds: int, minimum: int) -> None:
    if not minimum <= seconds <= MAX_ACK_DEADLINE_SECONDS:
        raise PubSubError(
            Code.INVALID_ARGUMENT,
            f"ack deadline {seconds} s is outside [{minimum}, {MAX_ACK_DEADLINE_SECONDS}]",
        )


class _Stream:
    """One StreamingPull call: its lease length and the acks/modacks its requests carry."""

    def __init__(self, broker: Broker, first: types.StreamingPullRequest):
        self._broker = broker
        self.subscription = first.subscription
        self.ack_deadline_seconds = 0  # 0: the subscription's
        self.ended = threading.Event()
        self.error: PubSubError | None = None
        self.handle(first)

    def handle(self, request: types.StreamingPullRequest) -> None:
        if request.stream_ack_deadline_seconds:
            _check_ack_deadline(request.stream_ack_deadline_seconds, minimum=1)
            self.ack_deadline_seconds = request.stream_ack_deadline_seconds
        if request.ack_ids:
            self._broker.acknowledge(self.subscription, request.ack_ids)
        if len(request.modify_deadline_ack_ids) != len(request.modify_deadline_seconds):
            raise PubSubError(
                Code.INVALID_ARGUMENT,
                "modify_deadline_ack_ids and modify_deadline_seconds differ in length",
            )
        modifications = zip(request.modify_deadline_ack_ids, request.modify_deadline_seconds)
        for ack_id, seconds in modifications:
            self._broker.modify_ack_deadline(self.subscription, [ack_id], seconds)

    def read(self, requests) -> None:
        """Handle the client's later requests until it closes the call (runs on its own thread)."""
        try:
            for request in requests:
                self.handle(request)
        except PubSubError as error:
            self.error = error
        except grpc.RpcError:
            pass  # the call was cancelled, or the server is stopping
        finally:
            self.ended.set()


def _streaming_pull(broker: Broker, requests, context: grpc.ServicerContext):
    """Yield StreamingPullResponses while the call lasts; acks come in on a reader thread."""
    first = next(requests, None)
    if first is None:
        return
    broker.get_subscription(first.subscription)
    stream = _Stream(broker, first)
    threading.Thread(target=stream.read, args=(requests,), daemon=True).start()
    while not stream.ended.is_set() and context.is_active():
        received = broker.pull(
            stream.subscription, STREAM_BATCH_SIZE, STREAM_WAIT_SECONDS, stream.ack_deadline_seconds
        )
        if received:
            yield types.StreamingPullResponse(received_messages=received)
    if stream.error is not None:
        raise stream.error


def _pull_wait_seconds(request: types.PullRequest, context: grpc.ServicerContext) -> float:
    """PULL_WAIT_SECONDS, cut short to answer before the client's own deadline."""
    if request.return_immediately:
        return 0.0
    remaining = context.time_remaining()
    if remaining is None:
        return PULL_WAIT_SECONDS
    return max(0.0, min(PULL_WAIT_SECONDS, remaining - 0.1))


def _unary(broker: Broker, name: str, request_type, response_type, handle: Callable):
    """An RPC handler: counts the call and turns PubSubError into its status.

    response_type None means google.protobuf.Empty, whatever `handle` returns.
    """

    def behaviour(request, context):
        broker.count(name)
        try:
            response = handle(request, context)
        except PubSubError as error:
            context.abort(error.code, error.details)
        return empty_pb2.Empty() if response_type is None else response

    if response_type is None:
        serializer = empty_pb2.Empty.SerializeToString
    else:
        serializer = response_type.serialize
    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=request_type.deserialize, response_serializer=serializer
    )


def _stream_handler(broker: Broker):
    def behaviour(requests, context):
        broker.count("StreamingPull")
        try:
            yield from _streaming_pull(broker, requests, context)
        except PubSubError as error:
            context.abort(error.code, error.details)

    return grpc.stream_stream_rpc_method_handler(
        behaviour,
        request_deserializer=types.StreamingPullRequest.deserialize,
        response_serializer=types.StreamingPullResponse.serialize,
    )


def generic_handlers(broker: Broker) -> list[grpc.GenericRpcHandler]:
    """The google.pubsub.v1.Publisher and google.pubsub.v1.Subscriber services over `broker`."""
    b = broker
    publisher = {
        "CreateTopic": (types.Topic, types.Topic, lambda r, c: b.create_topic(r)),
        "GetTopic": (types.GetTopicRequest, types.Topic, lambda r, c: b.get_topic(r.topic)),
        "ListTopics": (
            types.ListTopicsRequest, types.ListTopicsResponse,
            lambda r, c: types.ListTopicsResponse(topics=b.list_topics(r.project)),
        ),
        "DeleteTopic": (types.DeleteTopicRequest, None, lambda r, c: b.delete_topic(r.topic)),
        "Publish": (
            types.PublishRequest, types.PublishResponse,
            lambda r, c: types.PublishResponse(message_ids=b.publish(r.topic, list(r.messages))),
        ),
    }
    subscriber = {
        "CreateSubscription": (
            types.Subscription, types.Subscription, lambda r, c: b.create_subscription(r),
        ),
        "GetSubscription": (
            types.GetSubscriptionRequest, types.Subscription,
            lambda r, c: b.get_subscription(r.subscription),
        ),
        "DeleteSubscription": (
            types.DeleteSubscriptionRequest, None,
            lambda r, c: b.delete_subscription(r.subscription),
        ),
        "Pull": (
            types.PullRequest, types.PullResponse,
            lambda r, c: types.PullResponse(
                received_messages=b.pull(r.subscription, r.max_messages, _pull_wait_seconds(r, c))
            ),
        ),
        "Acknowledge": (
            types.AcknowledgeRequest, None, lambda r, c: b.acknowledge(r.subscription, r.ack_ids),
        ),
        "ModifyAckDeadline": (
            types.ModifyAckDeadlineRequest, None,
            lambda r, c: b.modify_ack_deadline(r.subscription, r.ack_ids, r.ack_deadline_seconds),
        ),
    }
    publisher_handlers = {name: _unary(b, name, *spec) for name, spec in publisher.items()}
    subscriber_handlers = {name: _unary(b, name, *spec) for name, spec in subscriber.items()}
    subscriber_handlers["StreamingPull"] = _stream_handler(b)
    return [
        grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", publisher_handlers),
        grpc.method_handlers_generic_handler("google.pubsub.v1.Subscriber", subscriber_handlers),
    ]


class PubSubStandIn:
    """The stand-in's gRPC server on 127.0.0.1, in this process, for the `with` block.

    `host` ("127.0.0.1:PORT") is what PUBSUB_EMULATOR_HOST must hold for the clients.
    """

    def __init__(self, port: int = 0, grace_seconds: float = 1.0):
        self.broker = Broker()
        self.host = ""
        self._port = port
        self._grace_seconds = grace_seconds
        self._executor: futures.ThreadPoolExecutor | None = None
        self._server: grpc.Server | None = None

    def __enter__(self) -> "PubSubStandIn":
        self._executor = futures.ThreadPoolExecutor(_WORKERS, thread_name_prefix="pubsub")
        self._server = grpc.server(
            self._executor,
            handlers=generic_handlers(self.broker),
            # Binding a port that another server holds fails instead of sharing it.
            options=[("grpc.so_reuseport", 0)],
        )
        port = self._server.add_insecure_port(f"127.0.0.1:{self._port}")
        self._server.start()
        self.host = f"127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.stop(self._grace_seconds).wait()
        self._executor.shutdown(wait=True)  # handlers notice the stop within PULL_WAIT_SECONDS

    def create_topic(self, path: str) -> None:
        self.broker.create_topic(types.Topic(name=path))

    def create_subscription(
        self, sub_path: str, topic_path: str, ack_deadline_seconds: int = 0
    ) -> None:
        """ack_deadline_seconds 0 means the service default, 10 s."""
        subscription = types.Subscription(
            name=sub_path, topic=topic_path, ack_deadline_seconds=ack_deadline_seconds
        )
        self.broker.create_subscription(subscription)

    def published(self, topic_path: str) -> list[tuple[bytes, dict[str, str]]]:
        """Every message ever published to the topic, oldest first: [(data, attributes)]."""
        return self.broker.published(topic_path)

    def stats(self) -> dict[str, int]:
        """RPCs served and message counts.

            {"Publish": 2, "Pull": 9, ..., "delivered": 12, "acked": 10, "expired": 2, "nacked": 0}
        """
        return self.broker.stats()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.pubsub", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--port_file", type=Path, help="file that receives the port once listening")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stop.set())
    with PubSubStandIn(port=args.port) as pubsub:
        if args.port_file is not None:
            write_port_file(args.port_file, int(pubsub.host.rsplit(":", 1)[1]))
        print(f"pubsub stand-in listening on {pubsub.host}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
