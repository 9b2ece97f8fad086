"""A process that has spoken gRPC to the Pub/Sub service and then starts children with a
preexec_fn (as the tests and the streaming demo start the emulator and the job:
sandbox.pubsub_emulator.own_group_ended_with_parent) gets every child to its exec. With gRPC's
fork support on, about one in five aborted in gRPC's poller first (sandbox/__init__.py)."""
import signal
import subprocess

from tests.e2e.streaming import publish

CHILDREN = 40


def test_children_started_with_a_preexec_fn_after_grpc_calls_all_reach_their_exec(pubsub_topics):
    codes = []
    for n in range(CHILDREN):
        publish(pubsub_topics.topic, [{"n": n}])   # the client's channel busy between forks
        child = subprocess.run(["true"], capture_output=True, check=False, timeout=30,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        codes.append((child.returncode, child.stderr[-200:]))
    assert codes == [(0, b"")] * CHILDREN
