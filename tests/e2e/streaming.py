"""Helpers for the streaming end-to-end tests: the real CLI reading a Pub/Sub subscription
(Google's emulator or the stand-in, tests/pubsub_service.py) and delivering to the sandbox."""
import json
import os
import signal
import subprocess
import sys
import time

from google.cloud import pubsub_v1

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT
from tests.pubsub_service import PROJECT

WAIT_SECONDS = 120


def wait_for(condition, seconds=WAIT_SECONDS, what="condition", job=None):
    """Polls `condition` until it holds. With `job` (a start_job process): fails at once when the
    job has ended, and on a timeout stops it; either failure carries what the job printed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if job is not None and job.poll() is not None:
            raise AssertionError(f"the job ended (exit {job.returncode}) before {what}\n"
                                 + job_output(*stop_job(job)))
        time.sleep(0.5)
    printed = "" if job is None else "\n" + job_output(*stop_job(job))
    raise AssertionError(f"timed out after {seconds}s waiting for {what}{printed}")


def start_job(topics, sandbox, *extra):
    """`python -m pipeline --input_subscription ...` as a subprocess (stdout/stderr piped)."""
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": topics.host, "GAINSIGHT_ACCESS_KEY": ACCESS_KEY}
    argv = [sys.executable, "-m", "pipeline", "--input_subscription", topics.subscription,
            "--dead_letter_topic", topics.dead_topic, "--gainsight_endpoint", sandbox.url,
            "--track_whitelist", "Order Completed,Signed Up", "--max_buffering_seconds", "1",
            "--project", PROJECT, *extra]
    # Ctrl-C must reach the job even when this test runs where SIGINT is ignored (a background
    # CI job), which a child inherits and which keeps Python from raising KeyboardInterrupt.
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_job(job, stop_signal=signal.SIGINT):
    """Stops the job as a user would; (stdout, stderr). Stopping it again answers the same."""
    if getattr(job, "printed", None) is None:
        if job.poll() is None:
            job.send_signal(stop_signal)
        try:
            job.printed = job.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            job.kill()
            job.printed = job.communicate()
    return job.printed


def publish(topic, events):
    """Publishes each event (a dict as JSON, or bytes as they are); the message ids."""
    publisher = pubsub_v1.PublisherClient()
    futures = [publisher.publish(topic, e if isinstance(e, bytes) else json.dumps(e).encode())
               for e in events]
    return [future.result(timeout=30) for future in futures]


def summary_counts(stdout: str) -> dict:
    """The summary table the job prints when stopped: {"read": "9", ...}."""
    return dict(line.split() for line in stdout.splitlines() if len(line.split()) == 2)


def job_output(stdout: str, stderr: str) -> str:
    """What the job printed, for an assertion message (the access key blanked)."""
    return (f"stdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-4000:]}").replace(ACCESS_KEY, "<key>")


def message_ids(sandbox) -> list:
    """The messageIds the sandbox accepted, in order, copies included."""
    return [m["messageId"] for m in sandbox.received()]


class DeadLetters:
    """The dead-letter records read back from the dead-letter topic's audit subscription."""

    def __init__(self, topics):
        self._topics = topics
        self.records = []

    def read(self, wait_seconds=1.0) -> list:
        pulled = self._topics.pubsub.pull(self._topics.dead_subscription, wait_seconds)
        self.records += [json.loads(data) for data, _ in pulled]
        return self.records
