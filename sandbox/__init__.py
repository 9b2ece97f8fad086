"""Gainsight-compatible HTTP receiver for Segment messages, with fault injection.

    with SandboxProcess("key", FaultConfig(rate_503=0.1, seed=1)) as sandbox:
        ...  # POST to f"{sandbox.url}/clickstream/segmentio/event"  (sandbox.event_url)
        sandbox.received(), sandbox.stats()

    with SandboxProcess("AP-key", destination="gainsight-px") as sandbox:
        ...  # POST with Basic auth ("AP-key", "") to f"{sandbox.url}/rte/segmentio/v1/push"

    with SandboxProcess("key", destination="gainsight-api") as sandbox:
        ...  # Gainsight CS's REST API (sandbox.gainsight_api); sandbox.records() reads it back
"""
import os

# A process that has spoken gRPC (to the Pub/Sub emulator) and then starts a child with a
# preexec_fn (the emulator, or a job: sandbox.pubsub_emulator.own_group_ended_with_parent) forks
# the slow way, and gRPC's fork handlers restart its poller in the child while the child closes
# its inherited descriptors: about one child in five aborted before exec ("epoll_wait error: Bad
# file descriptor"). No child here uses its parent's gRPC, so gRPC's fork support is off. gRPC
# reads this once, when it loads: the tests and the streaming demo import this package first.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from sandbox.faults import OUTAGE_ANSWERS, OUTCOMES, FaultConfig, FaultPicker, OutageWindow
from sandbox.process import SandboxProcess
from sandbox.server import (
    DESTINATIONS, EVENT_PATH, GAINSIGHT, GAINSIGHT_API, GAINSIGHT_PX, PATH_BY_DESTINATION, PX_EVENT_PATH,
    make_app,
)

__all__ = [
    "DESTINATIONS", "EVENT_PATH", "GAINSIGHT", "GAINSIGHT_API", "GAINSIGHT_PX", "OUTAGE_ANSWERS", "OUTCOMES",
    "PATH_BY_DESTINATION", "PX_EVENT_PATH", "FaultConfig", "FaultPicker", "OutageWindow",
    "SandboxProcess", "make_app",
]
