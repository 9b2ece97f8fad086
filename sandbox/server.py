"""aiohttp app that receives Segment messages the way Gainsight's endpoint does.

    POST /clickstream/segmentio/event   header accessKey: KEY, body {"type": "track", ...}
        200 {"result": true}                        recorded as one JSON line
        401 {"result": false, "error": "..."}       missing or wrong accessKey
        400 {"result": false, "error": "..."}       body not JSON, or not a JSON object
        503 / 429 (Retry-After) / 400 / dropped connection / stall: injected faults
    GET  /_sandbox/stats     counters, see SandboxStats.as_json
    POST /_sandbox/flush     flush the record file
    POST /_sandbox/faults    {"rate_503": 0.1, ...} replaces the FaultConfig

Auth and JSON checks come before faults; latency_ms delays every event request.
"""

import asyncio
import contextlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from sandbox.faults import FAULTS, FaultConfig, FaultPicker

ACCESS_KEY_ENV = "GAINSIGHT_ACCESS_KEY"  # where the CLI and SandboxProcess pass the key
EVENT_PATH = "/clickstream/segmentio/event"
RECORD_FLUSH_SECONDS = 0.5
_RECORD_BUFFER_BYTES = 1 << 20
_JSON_TYPE_NAMES = {
    list: "array", str: "string", int: "number", float: "number", bool: "boolean",
    type(None): "null",
}


class SandboxStats:
    """Counters of one sandbox run; arrivals are accepted plus injected-fault requests."""

    def __init__(self) -> None:
        self.accepted = 0
        self.unauthorized = 0
        self.bad_request = 0
        self.injected = Counter({fault: 0 for fault in FAULTS})
        self.arrivals_per_second: Counter[int] = Counter()
        self.accepted_per_second: Counter[int] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def as_json(self) -> dict[str, Any]:
        """{"accepted": 3, "unauthorized": 1, "bad_request": 0,
        "injected": {"503": 2, "429": 0, "drop": 0, "stall": 0, "400": 0},
        "arrivals_per_second": {"1767000000": 5}, "accepted_per_second": {"1767000000": 3},
        "max_in_flight": 2}   (per-second keys are the unix second the request arrived)"""
        return {
            "accepted": self.accepted,
            "unauthorized": self.unauthorized,
            "bad_request": self.bad_request,
            "injected": dict(self.injected),
            "arrivals_per_second": {str(s): n for s, n in self.arrivals_per_second.items()},
            "accepted_per_second": {str(s): n for s, n in self.accepted_per_second.items()},
            "max_in_flight": self.max_in_flight,
        }


class MessageRecorder:
    """Appends accepted messages, one compact JSON object per line, through a buffer; and,
    when `times_path` is given, `messageId<TAB>unix time accepted` lines (for latency figures)."""

    def __init__(self, path: str | Path | None, times_path: str | Path | None = None) -> None:
        self._files: list[TextIO] = []
        self._file: TextIO | None = None
        self._times: TextIO | None = None
        if path is not None:
            self._file = open(path, "a", encoding="utf-8", buffering=_RECORD_BUFFER_BYTES)
            self._files.append(self._file)
        if times_path is not None:
            self._times = open(times_path, "a", encoding="utf-8", buffering=_RECORD_BUFFER_BYTES)
            self._files.append(self._times)

    def append(self, message: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(message, separators=(",", ":")) + "\n")
        if self._times is not None:
            self._times.write(f"{message.get('messageId')}\t{time.time():.6f}\n")

    def flush(self) -> None:
        for file in self._files:
            file.flush()

    def close(self) -> None:
        for file in self._files:
            file.close()
        self._files = []
        self._file = self._times = None


class Sandbox:
    """Everything a request handler needs: key, current faults, stats and recorder."""

    def __init__(self, access_key: str, faults: FaultConfig, recorder: MessageRecorder):
        if not access_key:
            raise ValueError("access_key must not be empty")
        self._access_key = _key_bytes(access_key)
        self.picker = FaultPicker(faults)
        self.stats = SandboxStats()
        self.recorder = recorder

    @property
    def faults(self) -> FaultConfig:
        return self.picker.config

    def replace_faults(self, faults: FaultConfig) -> None:
        self.picker = FaultPicker(faults)

    def is_authorised(self, given_key: str) -> bool:
        return hmac.compare_digest(_key_bytes(given_key), self._access_key)


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


SANDBOX = web.AppKey("sandbox", Sandbox)


def make_app(
    access_key: str, faults: FaultConfig, record_path: str | Path | None,
    times_path: str | Path | None = None,
) -> web.Application:
    """Build the receiver; record_path=None accepts messages without recording them."""
    app = web.Application()
    app[SANDBOX] = Sandbox(access_key, faults, MessageRecorder(record_path, times_path))
    app.router.add_post(EVENT_PATH, receive_event)
    app.router.add_get("/_sandbox/stats", get_stats)
    app.router.add_post("/_sandbox/flush", flush_record)
    app.router.add_post("/_sandbox/faults", replace_faults)
    app.cleanup_ctx.append(_flush_record_periodically)
    return app


async def _flush_record_periodically(app: web.Application) -> AsyncIterator[None]:
    recorder = app[SANDBOX].recorder

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(RECORD_FLUSH_SECONDS)
            recorder.flush()

    flusher = asyncio.create_task(flush_forever())
    yield
    flusher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flusher
    recorder.close()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"result": False, "error": message}, status=status, headers=headers)


def _parse_message(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """(message, "") for a JSON object, else (None, what was wrong)."""
    try:
        message = json.loads(body, parse_constant=_reject_constant)
    except ValueError as error:
        return None, f"body is not valid JSON: {error}"
    if not isinstance(message, dict):
        kind = _JSON_TYPE_NAMES.get(type(message), type(message).__name__)
        return None, f"body must be a JSON object (one Segment message), got {kind}"
    return message, ""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


async def receive_event(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    stats = sandbox.stats
    arrival_second = int(time.time())
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        return await _answer_event(request, sandbox, arrival_second)
    finally:
        stats.in_flight -= 1


async def _answer_event(
    request: web.Request, sandbox: Sandbox, arrival_second: int
) -> web.Response:
    stats, faults = sandbox.stats, sandbox.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    given_key = request.headers.get("accessKey")
    if given_key is None or not sandbox.is_authorised(given_key):
        stats.unauthorized += 1
        return _error(401, "missing accessKey header" if given_key is None else "invalid accessKey")
    message, problem = _parse_message(await request.read())
    if message is None:
        stats.bad_request += 1
        return _error(400, problem)

    outcome = sandbox.picker.pick()
    stats.arrivals_per_second[arrival_second] += 1
    if outcome != "ok":
        stats.injected[outcome] += 1
    if outcome == "503":
        return _error(503, "injected 503: service unavailable")
    if outcome == "429":
        retry_after = str(faults.retry_after_seconds)
        return _error(429, "injected 429: too many requests", {"Retry-After": retry_after})
    if outcome == "400":
        return _error(400, "injected 400: bad request")
    if outcome == "drop":
        if request.transport is not None:
            request.transport.close()
        return web.Response()  # never sent: aiohttp ignores writes to the closed connection
    if outcome == "stall":
        await asyncio.sleep(faults.stall_seconds)
    sandbox.recorder.append(message)
    stats.accepted += 1
    stats.accepted_per_second[arrival_second] += 1
    return web.json_response({"result": True})


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX].stats.as_json())


async def flush_record(request: web.Request) -> web.Response:
    request.app[SANDBOX].recorder.flush()
    return web.json_response({"flushed": True})


async def replace_faults(request: web.Request) -> web.Response:
    try:
        faults = FaultConfig.from_mapping(json.loads(await request.read()))
    except ValueError as error:
        return _error(400, str(error))
    request.app[SANDBOX].replace_faults(faults)
    return web.json_response({"faults": faults.as_dict()})
