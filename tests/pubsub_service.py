"""The Pub/Sub every streaming test runs against: Google's emulator where it is installed, the
stand-in (sandbox/pubsub.py) where it is not or where SEGMENT_TO_GAINSIGHT_PUBSUB=standin.

    def test_x(pubsub_topics):      # fresh topic + subscription + dead-letter topic and its
        pubsub_topics.topic          # audit subscription; PUBSUB_EMULATOR_HOST points at them
        pubsub_topics.pubsub.kind    # "emulator" or "stand-in"

One service for the session (started on first use, stopped at its end, whatever happens);
each test gets its own topic names. Which service ran is printed on a line of its own at the end
of the run (`pytest -q` too), so a run on the stand-in never passes for a run on the emulator.
"""
import itertools
from dataclasses import dataclass

import pytest

from sandbox.pubsub_emulator import describe, emulator_path, start_pubsub

PROJECT = "demo-project"  # Pub/Sub wants project ids of 6 to 30 characters
_USED = pytest.StashKey[str]()
_numbers = itertools.count(1)


@dataclass
class Topics:
    pubsub: object          # sandbox.pubsub_emulator.EmulatorAdmin or StandInAdmin
    topic: str
    subscription: str
    dead_topic: str
    dead_subscription: str

    @property
    def host(self) -> str:
        return self.pubsub.host


@pytest.fixture(scope="session")
def running_pubsub(request):
    """The running emulator (or stand-in) for the whole session."""
    with start_pubsub() as running:
        request.config.stash[_USED] = describe(running)
        yield running


@pytest.fixture
def pubsub_topics(running_pubsub, monkeypatch):
    """Names no other test uses, created: the input topic and the job's subscription (ack
    deadline 10 s, the service's default), the dead-letter topic and a subscription reading it."""
    pubsub_service = running_pubsub
    n = next(_numbers)
    path = f"projects/{PROJECT}"
    topics = Topics(pubsub_service, f"{path}/topics/segment-{n}",
                    f"{path}/subscriptions/segment-to-gainsight-{n}",
                    f"{path}/topics/segment-dead-letter-{n}", f"{path}/subscriptions/dead-letter-audit-{n}")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_service.host)
    pubsub_service.create_topic(topics.topic)
    pubsub_service.create_subscription(topics.subscription, topics.topic)
    pubsub_service.create_topic(topics.dead_topic)
    pubsub_service.create_subscription(topics.dead_subscription, topics.dead_topic)
    return topics


def emulator_only(topics: Topics) -> None:
    """Skips, saying why, a test whose behaviour only Google's emulator has."""
    if topics.pubsub.kind != "emulator":
        pytest.skip("needs Google's Pub/Sub emulator (the stand-in has no seek, and its "
                    "leases are its author's idea of Pub/Sub's)")


def header() -> str:
    """The run's header line (without -q): which Pub/Sub the streaming tests will start."""
    path = emulator_path()
    if path:
        return f"pubsub: the streaming tests use Google's Pub/Sub emulator ({path})"
    return "pubsub: the streaming tests use the in-memory stand-in (sandbox/pubsub.py)"


def report(terminalreporter, config) -> None:
    """The line naming the Pub/Sub the streaming tests used (pytest_terminal_summary)."""
    used = config.stash.get(_USED, None)
    if used is not None:
        terminalreporter.write_line(f"pubsub: the streaming tests ran against {used}")
