"""Short Pub/Sub pulls for Beam's local streaming runner.

Beam 2.77's local runner reads a subscription with one blocking Pull of up to 10 messages and a
30 s deadline, and fires its processing-time timers (the Batch step's --max_buffering_seconds
flush) only between bundles. Pub/Sub (and Google's emulator) holds an empty Pull open until the
deadline, so when a stream goes quiet its last events waited up to 30 s before being sent, and a
stop waited for that read too.

    shorten_local_pulls()    # every local Pub/Sub read then waits at most PULL_WAIT_SECONDS:
                             # an empty answer (or the deadline passing) is an empty bundle

Only the local runner's reader is touched; Dataflow reads Pub/Sub natively.
"""
from google.api_core import exceptions
from google.pubsub_v1 import types

PULL_WAIT_SECONDS = 2.0


class ShortPulls:
    """A SubscriberClient whose pull() waits at most `seconds` and answers an empty
    PullResponse when nothing came; every other call goes to the client as it is."""

    def __init__(self, client, seconds: float = PULL_WAIT_SECONDS):
        self._client = client
        self._seconds = seconds

    def pull(self, subscription, max_messages, timeout=None, **kwargs):
        del timeout  # the runner's 30 s
        try:
            return self._client.pull(subscription=subscription, max_messages=max_messages,
                                     timeout=self._seconds, **kwargs)
        except exceptions.DeadlineExceeded:
            return types.PullResponse()

    def __getattr__(self, name):
        return getattr(self._client, name)


def shorten_local_pulls(seconds: float = PULL_WAIT_SECONDS) -> bool:
    """Makes the local runner's Pub/Sub reads use ShortPulls (once per process); False when
    this Beam has no such reader to adjust (it then reads as Beam does)."""
    from apache_beam.runners.direct import transform_evaluator  # pylint: disable=import-outside-toplevel

    evaluator = getattr(transform_evaluator, "_PubSubReadEvaluator", None)
    original = getattr(evaluator, "_get_subscriber_client", None)
    if original is None:
        return False
    if getattr(original, "short_pulls", False):
        return True
    get_client = original.__func__

    def short_pull_client(cls, transform):
        return ShortPulls(get_client(cls, transform), seconds)

    short_pull_client.short_pulls = True
    evaluator._get_subscriber_client = classmethod(short_pull_client)  # pylint: disable=protected-access
    return True
