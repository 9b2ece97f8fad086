"""Gainsight-compatible HTTP receiver for Segment messages, with fault injection.

    with SandboxProcess("key", FaultConfig(rate_503=0.1, seed=1)) as sandbox:
        ...  # POST to f"{sandbox.url}/clickstream/segmentio/event"
        sandbox.received(), sandbox.stats()
"""

from sandbox.faults import OUTCOMES, FaultConfig, FaultPicker
from sandbox.process import SandboxProcess
from sandbox.server import EVENT_PATH, make_app

__all__ = ["EVENT_PATH", "OUTCOMES", "FaultConfig", "FaultPicker", "SandboxProcess", "make_app"]
