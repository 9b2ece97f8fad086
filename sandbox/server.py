"""aiohttp app that receives Segment messages the way Gainsight's endpoints do.

destination "gainsight" (Gainsight CS's Segment connector):
    POST /clickstream/segmentio/event   header accessKey: KEY, body {"type": "track", ...}
destination "gainsight-px" (Gainsight PX's Segment contract):
    POST /rte/segmentio/v1/push         header Authorization: Basic base64("KEY:"), same body
        200 {"result": true}                        recorded as one JSON line
        401 {"result": false, "error": "..."}       missing or wrong credential
        400 {"result": false, "error": "..."}       body not JSON, or not a JSON object
        400 {"result": false, "error": "..."}       PX only: body [] with a valid key, Segment's
                                                    key check (400 = valid); counted as key_checks
        503 / 429 (Retry-After) / 400 / dropped connection / stall: injected faults
        503 / dropped connection, alternately: every request inside the outage window
destination "gainsight-api" (Gainsight CS's REST API, sandbox.gainsight_api):
    PUT /v1.0/api/people, POST /v1/data/objects/query/<Object>, POST and PUT
    /v1/data/objects/<Object>       header accesskey: KEY; envelope answers
        {"result", "errorCode", "errorDesc", "requestId", "data"}; each accepted call recorded
        as {"method", "path", "query", "body"}; 429 GU_2400 past the minute's or day's calls;
        injected faults as above in the envelope (an injected 429 is GU_2400 with Retry-After,
        an injected 400 is GSOBJ_1000 naming no record)
    GET  /_sandbox/records   the People, Companies and custom-object rows held (Store.snapshot)
    The other destinations' paths are not served (404).
    GET  /_sandbox/stats     counters, see Sandbox.stats_json
    POST /_sandbox/flush     flush the record file
    POST /_sandbox/faults    {"rate_503": 0.1, ...} replaces the FaultConfig (and restarts
                             its outage window's clock)

Order per event request: the outage window (checked on arrival, before anything else:
the service is down), then latency_ms, then auth, then the JSON checks (and the PX key
check), then the per-request faults drawn by the picker (never for a key check).
"""

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from sandbox import gainsight_api
from sandbox.faults import FAULTS, OUTAGE_ANSWERS, FaultConfig, FaultPicker, OutageWindow

GAINSIGHT = "gainsight"
GAINSIGHT_PX = "gainsight-px"
GAINSIGHT_API = "gainsight-api"
DESTINATIONS = (GAINSIGHT, GAINSIGHT_PX, GAINSIGHT_API)
# Where the CLI and SandboxProcess pass the key, per destination (the job's own variables).
ACCESS_KEY_ENV = "GAINSIGHT_ACCESS_KEY"
PX_API_KEY_ENV = "GAINSIGHT_PX_API_KEY"
KEY_ENV_BY_DESTINATION = {GAINSIGHT: ACCESS_KEY_ENV, GAINSIGHT_PX: PX_API_KEY_ENV,
                          GAINSIGHT_API: ACCESS_KEY_ENV}
EVENT_PATH = "/clickstream/segmentio/event"
PX_EVENT_PATH = "/rte/segmentio/v1/push"
PATH_BY_DESTINATION = {GAINSIGHT: EVENT_PATH, GAINSIGHT_PX: PX_EVENT_PATH,
                       GAINSIGHT_API: gainsight_api.PEOPLE_PATH}
RECORD_FLUSH_SECONDS = 0.5
_RECORD_BUFFER_BYTES = 1 << 20
_JSON_TYPE_NAMES = {
    list: "array", str: "string", int: "number", float: "number", bool: "boolean",
    type(None): "null",
}


class SandboxStats:
    """Counters of one sandbox run; arrivals are accepted plus injected-fault plus outage
    requests (not the 401s, 400s and key checks, which never reach the faults)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.unauthorized = 0
        self.bad_request = 0
        self.key_checks = 0
        self.injected = Counter({fault: 0 for fault in FAULTS})
        self.outage = Counter({answer: 0 for answer in OUTAGE_ANSWERS})
        self.arrivals_per_second: Counter[int] = Counter()
        self.accepted_per_second: Counter[int] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def as_json(self) -> dict[str, Any]:
        """{"accepted": 3, "unauthorized": 1, "bad_request": 0, "key_checks": 0,
        "injected": {"503": 2, "429": 0, "drop": 0, "stall": 0, "400": 0},
        "outage": {"503": 0, "drop": 0},
        "arrivals_per_second": {"1767000000": 5}, "accepted_per_second": {"1767000000": 3},
        "max_in_flight": 2}   (per-second keys are the unix second the request arrived)"""
        return {
            "accepted": self.accepted,
            "unauthorized": self.unauthorized,
            "bad_request": self.bad_request,
            "key_checks": self.key_checks,
            "injected": dict(self.injected),
            "outage": dict(self.outage),
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
    """Everything a request handler needs: destination, key, current faults and their
    outage window, stats and recorder."""

    def __init__(
        self, access_key: str, faults: FaultConfig, recorder: MessageRecorder,
        destination: str = GAINSIGHT,
    ):
        if not access_key:
            raise ValueError("access_key must not be empty")
        if destination not in DESTINATIONS:
            raise ValueError(f"destination must be one of {', '.join(DESTINATIONS)}, "
                             f"got {destination!r}")
        self.destination = destination
        # PX: the decoded Basic credential is "KEY:" (the key as user name, empty password).
        self._credential = _key_bytes(access_key + ":" if destination == GAINSIGHT_PX
                                      else access_key)
        self.stats = SandboxStats()
        self.recorder = recorder
        self.replace_faults(faults)

    @property
    def faults(self) -> FaultConfig:
        return self.picker.config

    def replace_faults(self, faults: FaultConfig) -> None:
        """New picker, and an outage window timed from now."""
        self.picker = FaultPicker(faults)
        self.outage = OutageWindow(faults, time.monotonic())
        self._wall_minus_monotonic = time.time() - time.monotonic()

    def outage_answer(self) -> str | None:
        """"503" or "drop" when a request arriving now falls in the outage window, else None."""
        return self.outage.answer(time.monotonic())

    def credential_problem(self, headers: Mapping[str, str]) -> str:
        """"" when the request carries this destination's credential, else what is wrong
        (never echoing what was given)."""
        if self.destination == GAINSIGHT_PX:
            header = headers.get("Authorization")
            if header is None:
                return "missing Authorization header"
            given = _basic_credential(header)
            if given is None:
                return 'Authorization must be Basic base64("API_KEY:")'
            return "" if hmac.compare_digest(given, self._credential) else "invalid API key"
        header = "accesskey" if self.destination == GAINSIGHT_API else "accessKey"
        given_key = headers.get(header)
        if given_key is None:
            return f"missing {header} header"
        return "" if hmac.compare_digest(_key_bytes(given_key), self._credential) \
            else f"invalid {header}"

    def stats_json(self) -> dict[str, Any]:
        """SandboxStats.as_json, its "outage" entry extended with the current window:
        "outage": {"503": 2, "drop": 1, "active": true,
                   "started_at": 1767000001.5, "ends_at": 1767000003.5}
        (unix times; started_at and ends_at are null when no outage is configured, and
        started_at is the scheduled start while the window is still ahead)."""
        stats = self.stats.as_json()
        window = self.outage
        configured = window.configured
        stats["outage"].update({
            "active": window.is_active(time.monotonic()),
            "started_at": window.start + self._wall_minus_monotonic if configured else None,
            "ends_at": window.end + self._wall_minus_monotonic if configured else None,
        })
        return stats


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def _basic_credential(header: str) -> bytes | None:
    """b"KEY:" from "Basic S0VZOg==", or None when the header is not valid Basic auth
    (another scheme, not base64, or no "user:password" inside)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        credential = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return credential if b":" in credential else None


SANDBOX = web.AppKey("sandbox", Sandbox)


API_STORE = web.AppKey("api_store", gainsight_api.Store)
API_QUOTA = web.AppKey("api_quota", gainsight_api.Quota)


def make_app(
    access_key: str, faults: FaultConfig, record_path: str | Path | None,
    times_path: str | Path | None = None, destination: str = GAINSIGHT,
    requests_per_minute: int = 100, requests_per_day: int = 50_000, name_errors: bool = True,
) -> web.Application:
    """Build the receiver of `destination` ("gainsight", "gainsight-px" or "gainsight-api"),
    serving only that destination's paths; record_path=None accepts messages without recording
    them. The last three shape the gainsight-api mode (its quota, and whether a validation
    failure names the bad records in data.errors)."""
    app = web.Application()
    recorder = MessageRecorder(record_path, times_path)
    app[SANDBOX] = Sandbox(access_key, faults, recorder, destination)
    if destination == GAINSIGHT_API:
        app[API_STORE] = gainsight_api.Store(name_errors)
        app[API_QUOTA] = gainsight_api.Quota(requests_per_minute, requests_per_day)
        app.router.add_put(gainsight_api.PEOPLE_PATH, receive_api_call)
        app.router.add_route("*", gainsight_api.OBJECTS_PATH + "{tail:.+}", receive_api_call)
        app.router.add_get("/_sandbox/records", get_records)
    else:
        app.router.add_post(PATH_BY_DESTINATION[destination], receive_event)
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


def _parse_message(body: bytes) -> tuple[Any, str]:
    """(decoded JSON, "") for valid JSON, else (None, what was wrong)."""
    try:
        return json.loads(body, parse_constant=_reject_constant), ""
    except ValueError as error:
        return None, f"body is not valid JSON: {error}"


def _not_an_object(value: Any) -> str:
    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return f"body must be a JSON object (one Segment message), got {kind}"


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


async def _outage_and_latency(request: web.Request, sandbox: Sandbox, arrival_second: int,
                              unavailable) -> web.Response | None:
    """During an outage window, its answer (`unavailable()`, a 503, or a dropped connection),
    counted; else None, after the injected latency."""
    outage = sandbox.outage_answer()
    if outage is not None:
        sandbox.stats.arrivals_per_second[arrival_second] += 1
        sandbox.stats.outage[outage] += 1
        return unavailable() if outage == "503" else _drop_connection(request)
    if sandbox.faults.latency_ms:
        await asyncio.sleep(sandbox.faults.latency_ms / 1000)
    return None


async def _answer_event(
    request: web.Request, sandbox: Sandbox, arrival_second: int
) -> web.Response:
    stats, faults = sandbox.stats, sandbox.faults
    down = await _outage_and_latency(request, sandbox, arrival_second,
                                     lambda: _error(503, "outage: service unavailable"))
    if down is not None:
        return down
    problem = sandbox.credential_problem(request.headers)
    if problem:
        stats.unauthorized += 1
        headers = ({"WWW-Authenticate": 'Basic realm="sandbox"'}
                   if sandbox.destination == GAINSIGHT_PX else None)
        return _error(401, problem, headers)
    message, problem = _parse_message(await request.read())
    if not problem and sandbox.destination == GAINSIGHT_PX and message == []:
        stats.key_checks += 1
        return _error(400, "empty batch: nothing to record (the API key is valid)")
    if not problem and not isinstance(message, dict):
        problem = _not_an_object(message)
    if problem:
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
        return _drop_connection(request)
    if outcome == "stall":
        await asyncio.sleep(faults.stall_seconds)
    sandbox.recorder.append(message)
    stats.accepted += 1
    stats.accepted_per_second[arrival_second] += 1
    return web.json_response({"result": True})


def _api_answer(status: int, result: bool, data: Any = None, code: str | None = None,
                desc: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    request_id = f"sandbox-{time.monotonic_ns():x}"
    return web.json_response(gainsight_api.envelope(result, data, code, desc, request_id),
                             status=status, headers=headers)


async def receive_api_call(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    stats = sandbox.stats
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        return await _answer_api_call(request, sandbox, int(time.time()))
    finally:
        stats.in_flight -= 1


async def _answer_api_call(request: web.Request, sandbox: Sandbox,
                           arrival_second: int) -> web.Response:
    """The outage window, latency, auth, the quota, the injected faults, then the call itself."""
    stats, faults = sandbox.stats, sandbox.faults
    down = await _outage_and_latency(request, sandbox, arrival_second, lambda: _api_answer(
        503, False, code="GS_503", desc="outage: service unavailable"))
    if down is not None:
        return down
    problem = sandbox.credential_problem(request.headers)
    if problem:
        stats.unauthorized += 1
        return _api_answer(401, False, code="GU_1101", desc=problem)
    refused = request.app[API_QUOTA].take()
    if refused:
        return _api_answer(429, False, code="GU_2400", desc=f"rate limit exceeded: {refused}")
    body = await request.read()
    outcome = sandbox.picker.pick()
    stats.arrivals_per_second[arrival_second] += 1
    if outcome != "ok":
        stats.injected[outcome] += 1
    if outcome == "503":
        return _api_answer(503, False, code="GS_503", desc="injected 503: service unavailable")
    if outcome == "429":
        return _api_answer(429, False, code="GU_2400", desc="injected 429: rate limit exceeded",
                           headers={"Retry-After": str(faults.retry_after_seconds)})
    if outcome == "400":
        return _api_answer(400, False, code="GSOBJ_1000", desc="injected 400: bad request")
    if outcome == "drop":
        return _drop_connection(request)
    if outcome == "stall":
        await asyncio.sleep(faults.stall_seconds)
    try:
        status, data = gainsight_api.answer_call(request.app[API_STORE], request.method,
                                                 request.path, dict(request.query), body)
    except gainsight_api.ApiError as error:
        stats.bad_request += 1
        return _api_answer(error.status, False, error.data, error.code, error.desc)
    sandbox.recorder.append({"method": request.method, "path": request.path,
                             "query": dict(request.query), "body": json.loads(body)})
    stats.accepted += 1
    stats.accepted_per_second[arrival_second] += 1
    return _api_answer(status, True, data)


async def get_records(request: web.Request) -> web.Response:
    return web.json_response(request.app[API_STORE].snapshot())


def _drop_connection(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.close()
    return web.Response()  # never sent: aiohttp ignores writes to the closed connection


async def get_stats(request: web.Request) -> web.Response:
    stats = request.app[SANDBOX].stats_json()
    if API_QUOTA in request.app:
        stats["quota"] = request.app[API_QUOTA].as_json()
    return web.json_response(stats)


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
