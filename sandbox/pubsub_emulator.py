"""Google's Pub/Sub emulator on a free loopback port, or the stand-in where it is missing.

    with start_pubsub() as pubsub:               # pubsub.kind: "emulator" or "stand-in"
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host        # "127.0.0.1:41234"
        pubsub.create_topic("projects/demo-project/topics/segment")
        pubsub.create_subscription("projects/demo-project/subscriptions/segment-in",
                                   "projects/demo-project/topics/segment")
        pubsub.pull("projects/demo-project/subscriptions/dead-letter-audit")  # [(data, attrs)]

Which one: the stand-in (sandbox.pubsub) when SEGMENT_TO_GAINSIGHT_PUBSUB=standin, or when the
emulator's launcher (SEGMENT_TO_GAINSIGHT_PUBSUB_EMULATOR, default EMULATOR_PATH, the Debian
package google-cloud-cli-pubsub-emulator) is not an executable file; the emulator otherwise.

The emulator (a JVM) runs in its own process group; leaving the block, a failure, or the end
of this Python process (atexit) stops the whole group: SIGTERM, then SIGKILL after a few seconds.
"""
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time

from sandbox.pubsub import PubSubStandIn

EMULATOR_PATH = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
CHOICE_VARIABLE = "SEGMENT_TO_GAINSIGHT_PUBSUB"  # "standin" forces the stand-in
PATH_VARIABLE = "SEGMENT_TO_GAINSIGHT_PUBSUB_EMULATOR"  # the emulator's launcher
START_SECONDS = 90  # the JVM listens within 3 to 10 s on an idle machine
STOP_SECONDS = 5
START_ATTEMPTS = 3  # another program may take the free port before the JVM binds it
_PR_SET_PDEATHSIG = 1


def emulator_path() -> str | None:
    """The emulator's launcher when it is to be used, else None (the stand-in is)."""
    if os.environ.get(CHOICE_VARIABLE, "").lower() in ("standin", "stand-in"):
        return None
    path = os.environ.get(PATH_VARIABLE) or EMULATOR_PATH
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PubSubEmulator:
    """Google's emulator as a child process group, for the `with` block; `host` once started."""

    kind = "emulator"

    def __init__(self, path: str = EMULATOR_PATH, port: int = 0):
        self.path = path
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> "PubSubEmulator":
        for attempt in range(1, START_ATTEMPTS + 1):
            self._log = tempfile.TemporaryFile()
            self.process = subprocess.Popen(
                [self.path, "--host=127.0.0.1", f"--port={self.port}"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                preexec_fn=own_group_ended_with_parent)
            atexit.register(self.stop)
            try:
                self._wait_until_it_answers()
                return self
            except _Exited:
                self.stop()
                if attempt == START_ATTEMPTS:
                    raise
                self.port = free_port()
                self.host = f"127.0.0.1:{self.port}"
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops the emulator's process group (idempotent); TERM first, KILL if it lingers."""
        process = self.process
        if process is None:
            return
        self.process = None
        atexit.unregister(self.stop)
        for stop_signal in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, stop_signal)
            try:
                process.wait(STOP_SECONDS)
                if not _group_alive(process.pid):
                    break
            except subprocess.TimeoutExpired:
                continue
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """What the emulator printed so far (for an error message)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise _Exited(f"the Pub/Sub emulator exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            if _answers(self.port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the Pub/Sub emulator did not answer on {self.host} within "
                           f"{START_SECONDS} s:\n{self.log()}")


class _Exited(RuntimeError):
    """The emulator ended before it answered (its port taken, say)."""


def own_group_ended_with_parent() -> None:
    """In the child before exec: its own process group (the JVM and anything it starts), and
    SIGTERM when the process that started it dies, even by SIGKILL (Linux prctl
    PR_SET_PDEATHSIG; the launcher script execs java, so the JVM keeps it)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(port: int) -> bool:
    """The emulator answers HTTP on its port once it is ready (its REST face: GET / says Ok)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


class _Admin:
    """Topics, subscriptions and reads through the real clients (PUBSUB_EMULATOR_HOST=host)."""

    host: str

    @contextlib.contextmanager
    def _clients(self):
        from google.cloud import pubsub_v1
        saved = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = self.host
        try:
            publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
            try:
                yield publisher, subscriber
            finally:
                subscriber.close()
        finally:
            if saved is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST", None)
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = saved

    def create_topic(self, path: str) -> None:
        with self._clients() as (publisher, _):
            publisher.create_topic(name=path)

    def create_subscription(self, sub_path: str, topic_path: str,
                            ack_deadline_seconds: int = 0) -> None:
        """ack_deadline_seconds 0 means the service default, 10 s."""
        with self._clients() as (_, subscriber):
            subscriber.create_subscription(name=sub_path, topic=topic_path,
                                           ack_deadline_seconds=ack_deadline_seconds)

    def pull(self, sub_path: str, wait_seconds: float = 3.0) -> list[tuple[bytes, dict]]:
        """Every message the subscription holds now, acknowledged: [(data, attributes)].

        Pulls until `wait_seconds` have passed without a message (at least one pull)."""
        from google.api_core import exceptions
        messages = []
        with self._clients() as (_, subscriber):
            quiet_since = time.monotonic()
            while True:
                try:  # an empty pull is answered just before its deadline
                    received = list(subscriber.pull(subscription=sub_path, max_messages=100,
                                                    timeout=1.0).received_messages)
                except exceptions.DeadlineExceeded:
                    received = []
                if not received:
                    if time.monotonic() - quiet_since >= wait_seconds:
                        return messages
                    continue
                subscriber.acknowledge(subscription=sub_path, ack_ids=[r.ack_id for r in received])
                messages += [(r.message.data, dict(r.message.attributes)) for r in received]
                quiet_since = time.monotonic()


class EmulatorAdmin(PubSubEmulator, _Admin):
    """The emulator with the admin calls (create_topic, create_subscription, pull)."""


class StandInAdmin(PubSubStandIn, _Admin):
    """The stand-in with the same admin calls; `kind` says which one runs."""

    kind = "stand-in"


def describe(pubsub) -> str:
    """One line: which Pub/Sub the run uses and where."""
    if pubsub.kind == "emulator":
        return f"Google's Pub/Sub emulator ({pubsub.path}) on {pubsub.host}"
    return (f"the in-memory stand-in (sandbox/pubsub.py) on {pubsub.host}; "
            f"Google's emulator is {_why_not()}")


def _why_not() -> str:
    if os.environ.get(CHOICE_VARIABLE, "").lower() in ("standin", "stand-in"):
        return f"not used ({CHOICE_VARIABLE}=standin)"
    path = os.environ.get(PATH_VARIABLE) or EMULATOR_PATH
    return f"not installed (no executable {path})"


def planned_kind() -> str:
    """"emulator" or "stand-in": what start_pubsub() will start."""
    return "emulator" if emulator_path() else "stand-in"


def start_pubsub():
    """A context manager: the emulator when installed (and not refused), else the stand-in."""
    path = emulator_path()
    return EmulatorAdmin(path) if path else StandInAdmin()

