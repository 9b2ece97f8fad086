"""A local Cloud Storage (gcp-storage-emulator, in memory) for tests that write gs:// paths.

    def test_x(gcs_bucket):          # "gs://test-bucket": Beam's FileSystems talks to the emulator
        DurableAppender(f"{gcs_bucket}/dl/dead-letter")

Beam's gcsio honours STORAGE_EMULATOR_HOST. Without credentials on this machine Beam would first
spend about 25 s retrying to find some; the fixture tells it once that there are none.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUCKET = "test-bucket"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gcp-storage-emulator exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gcp-storage-emulator did not listen on {port} within {seconds} s")


@pytest.fixture(scope="session")
def gcs_emulator():
    """http://127.0.0.1:PORT of a running emulator holding BUCKET; stopped after the session."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("gcp-storage-emulator")), "start", "--host", "127.0.0.1",
               "--port", str(port), "--in-memory", "--default-bucket", BUCKET, "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gcs_bucket(gcs_emulator, monkeypatch):
    """'gs://test-bucket', served by the emulator for this test."""
    from apache_beam.internal.gcp import auth
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    # No credentials here: skip Beam's search (retries with sleeps) and connect anonymously.
    monkeypatch.setattr(auth._Credentials, "_credentials_init", True)  # pylint: disable=protected-access
    monkeypatch.setattr(auth._Credentials, "_credentials", None)  # pylint: disable=protected-access
    yield f"gs://{BUCKET}"
