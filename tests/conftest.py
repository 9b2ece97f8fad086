"""Shared test fixtures: a distinctive access key and a sandbox (real HTTP on loopback); the
hypothesis profile every run uses."""
import contextlib
import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess
from tests import pubsub_service
from tests.pubsub_service import pubsub_topics, running_pubsub  # noqa: F401  (fixtures)

# Distinctive, so that a test can search everything a run printed or wrote for it.
ACCESS_KEY = "5ec2e7f0-9a1b-4c3d-8e4f-a0b1c2d3e4f5"
WRONG_KEY = "00000000-1111-2222-3333-444444444444"

# The suite must not fail because the machine is busy (CI, a shared laptop): no per-example
# deadline, and none of the health checks that measure time or size of generated data. The
# number of examples stays what each test asks for.
settings.register_profile("segment-to-gainsight", deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
settings.load_profile("segment-to-gainsight")


def pytest_report_header():
    return pubsub_service.header()


def pytest_terminal_summary(terminalreporter, config):
    pubsub_service.report(terminalreporter, config)


@pytest.fixture(scope="session", autouse=True)
def temporary_files_inside_the_session(tmp_path_factory):
    """Every run of the job in the suite, in this process or a CLI subprocess (which inherits
    TMPDIR), makes its spill directory under one of the session's temporary directories, so that
    the runs the tests kill on purpose (SIGKILL leaves a run's directory behind) leave nothing in
    the machine's /tmp; pytest removes old sessions' directories itself."""
    directory = str(tmp_path_factory.mktemp("tmpdir"))
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = directory, directory
    yield directory
    if saved[0] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved[0]
    tempfile.tempdir = saved[1]


@pytest.fixture
def sandbox(tmp_path):
    """A fault-free sandbox accepting ACCESS_KEY; stopped after the test."""
    directory = tmp_path / "sandbox"
    directory.mkdir()
    with SandboxProcess(ACCESS_KEY, FaultConfig(), directory=directory) as running:
        yield running


@pytest.fixture
def start_sandbox(tmp_path):
    """Factory for sandboxes with faults: start_sandbox(rate_503=1.0) -> running sandbox.
    Every sandbox started is stopped after the test."""
    with contextlib.ExitStack() as running:
        started = []

        def start(**faults):
            directory = tmp_path / f"sandbox{len(started)}"
            directory.mkdir()
            started.append(directory)
            return running.enter_context(
                SandboxProcess(ACCESS_KEY, FaultConfig(**faults), directory=directory))

        yield start
