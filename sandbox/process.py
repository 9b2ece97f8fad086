"""Run the sandbox as a subprocess for tests, benchmarks and demos.

    with SandboxProcess("test-key", FaultConfig(rate_503=0.1)) as sandbox:
        requests.post(f"{sandbox.url}/clickstream/segmentio/event",
                      headers={"accessKey": "test-key"}, json={"type": "track"}, timeout=5)
        sandbox.received()   # [{"type": "track"}]
        sandbox.stats()      # {"accepted": 1, ...}

    with SandboxProcess("test-key", destination="gainsight-api",
                        api_options={"requests_per_minute": 100}) as sandbox:
        sandbox.records()    # {"people": [...], "companies": [...], "objects": {...}}

    with SandboxProcess("AP-test-key", destination="gainsight-px") as sandbox:
        requests.post(f"{sandbox.url}/rte/segmentio/v1/push", auth=("AP-test-key", ""),
                      json={"type": "page"}, timeout=5)

The key reaches the child only through its environment ($GAINSIGHT_ACCESS_KEY, or
$GAINSIGHT_PX_API_KEY for gainsight-px), never its argv.
Files (port file, record, log) go to `directory`, or to a temporary directory
that is removed on exit.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from sandbox.faults import FaultConfig
from sandbox.server import DESTINATIONS, GAINSIGHT, KEY_ENV_BY_DESTINATION, PATH_BY_DESTINATION

STARTUP_TIMEOUT_SECONDS = 60.0  # room for a busy machine
STOP_TIMEOUT_SECONDS = 10.0
CONTROL_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.02


class SandboxProcess:
    """Context manager owning one `python -m sandbox` child process.

    destination: "gainsight" (accessKey header at EVENT_PATH) or "gainsight-px"
    (Basic auth at PX_EVENT_PATH); `event_url` is the one to post to.
    """

    def __init__(
        self,
        access_key: str,
        faults: FaultConfig = FaultConfig(),
        *,
        directory: str | Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        destination: str = GAINSIGHT,
        api_options: dict[str, Any] | None = None,
    ) -> None:
        if destination not in DESTINATIONS:
            raise ValueError(f"destination must be one of {', '.join(DESTINATIONS)}, "
                             f"got {destination!r}")
        self.destination = destination
        # gainsight-api: {"requests_per_minute": 100, "requests_per_day": 50000,
        # "unnamed_errors": False} (python -m sandbox's flags of the same names)
        self._api_options = dict(api_options or {})
        self._access_key = access_key
        self._faults = faults
        self._directory = Path(directory).resolve() if directory is not None else None
        self._startup_timeout = startup_timeout
        self._temporary_directory: Path | None = None
        self._process: subprocess.Popen | None = None
        self.url = ""
        self.record_path = Path()
        self.times_path = Path()
        self.log_path = Path()

    def __enter__(self) -> "SandboxProcess":
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    @property
    def event_url(self) -> str:
        """The URL of this destination's event path, e.g. http://127.0.0.1:41234/rte/segmentio/v1/push."""
        return self.url + PATH_BY_DESTINATION[self.destination]

    @property
    def pid(self) -> int:
        return self._require_process().pid

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has stopped, else None."""
        return self._require_process().poll()

    def stats(self) -> dict[str, Any]:
        return self._control("GET", "/_sandbox/stats").json()

    def records(self) -> dict[str, Any]:
        """gainsight-api: the rows held now: {"people": [...], "companies": [...],
        "objects": {"SegmentEvent__gc": [...]}} (sandbox.gainsight_api.Store.snapshot)."""
        return self._control("GET", "/_sandbox/records").json()

    def received(self) -> list[dict[str, Any]]:
        """Every accepted message so far, in arrival order."""
        self._control("POST", "/_sandbox/flush")
        with self.record_path.open(encoding="utf-8") as record:
            return [json.loads(line) for line in record]

    def accepted_at(self) -> dict[str, float]:
        """{messageId: unix time it was first accepted} for every accepted message so far."""
        self._control("POST", "/_sandbox/flush")
        times: dict[str, float] = {}
        with self.times_path.open(encoding="utf-8") as lines:
            for line in lines:
                message_id, accepted = line.rstrip("\n").split("\t")
                times.setdefault(message_id, float(accepted))
        return times

    def set_faults(self, **fields: Any) -> dict[str, Any]:
        """Replace the fault config (omitted fields reset to defaults); returns it.
        An outage window in it is timed from this call."""
        return self._control("POST", "/_sandbox/faults", json=fields).json()["faults"]

    def _control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call a control endpoint directly (never through a proxy from the environment)."""
        with requests.Session() as session:
            session.trust_env = False
            response = session.request(
                method, self.url + path, timeout=CONTROL_TIMEOUT_SECONDS, **kwargs
            )
        if response.status_code == 400:
            raise ValueError(response.json()["error"])
        response.raise_for_status()
        return response

    def _start(self) -> None:
        directory = self._directory
        if directory is None:
            directory = self._temporary_directory = Path(tempfile.mkdtemp(prefix="sandbox-"))
        port_file = directory / "sandbox.port"
        port_file.unlink(missing_ok=True)
        self.record_path = directory / "received.jsonl"
        self.times_path = directory / "accepted_at.tsv"
        self.log_path = directory / "sandbox.log"
        command = [sys.executable, "-m", "sandbox", "--port", "0",
                   "--port_file", str(port_file), "--record", str(self.record_path),
                   "--record_times", str(self.times_path), "--destination", self.destination]
        for name, value in self._faults.as_dict().items():
            command += [f"--{name}", str(value)]
        for name, value in self._api_options.items():
            command += [f"--{name}"] if value is True else [] if value is False else [f"--{name}", str(value)]
        environment = {**os.environ, KEY_ENV_BY_DESTINATION[self.destination]: self._access_key}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
        self.url = f"http://127.0.0.1:{self._wait_for_port(port_file)}"

    def _wait_for_port(self, port_file: Path) -> int:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if port_file.exists():
                return int(port_file.read_text())
            if self._require_process().poll() is not None:
                raise RuntimeError(f"sandbox exited during startup:\n{self.log_path.read_text()}")
            time.sleep(_POLL_SECONDS)
        raise TimeoutError(f"sandbox did not start within {self._startup_timeout} s")

    def _stop(self) -> None:
        try:
            if self._process is not None and self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            if self._temporary_directory is not None:
                shutil.rmtree(self._temporary_directory, ignore_errors=True)
                self._temporary_directory = None

    def _require_process(self) -> subprocess.Popen:
        if self._process is None:
            raise RuntimeError("SandboxProcess is not started; use it as a context manager")
        return self._process
