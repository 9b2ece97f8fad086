"""Debian's headless `chromium`, started by a test, driven over the DevTools protocol (a
websocket on loopback, through aiohttp), with every network request it might make blocked:

    with Chromium(tmp_path / "profile") as browser:
        seen = browser.open(f"file://{path}", script="document.title", screenshot=tmp_path / "page.png")
        seen.value, seen.console_errors, seen.requests     # the script's result, what went wrong

Also png_colors(path): how many distinct colours a PNG holds, and the commonest one's share
(a blank screenshot has one colour), read with zlib alone.
"""
import asyncio
import base64
import json
import shutil
import struct
import subprocess
import time
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

START_SECONDS = 30.0
CALL_SECONDS = 60.0
WIDTH = 1400
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         # the network blocked: any host resolves to nothing, through a proxy that is not there
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         f"--window-size={WIDTH},1000")


@dataclass
class Seen:
    value: object
    console_errors: list = field(default_factory=list)
    requests: list = field(default_factory=list)   # every URL requested that is not file: or data:


class Chromium:
    """Context manager: a headless chromium with a fresh profile in `profile`; stopped on exit."""

    def __init__(self, profile: Path):
        self._profile = Path(profile)

    def __enter__(self):
        binary = shutil.which("chromium")
        if binary is None:
            raise RuntimeError("Debian's chromium is not installed: apt-get install -y chromium "
                               "(.ci/run installs it)")
        self._profile.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self._profile}",
                                          "about:blank"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._port = self._wait_for_port()
        return self

    def __exit__(self, *exc_info):
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stderr.close()

    def _wait_for_port(self) -> int:
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}: "
                                   f"{self._process.stderr.read().decode(errors='replace')[-2000:]}")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.1)
        raise RuntimeError(f"chromium did not open its DevTools port within {START_SECONDS} s")

    def open(self, url: str, script: str, screenshot: Path | None = None) -> Seen:
        """Loads `url`, then evaluates `script` (its value returned), and saves a full-page PNG."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(target for target in targets if target["type"] == "page")
        return asyncio.run(_drive(page["webSocketDebuggerUrl"], url, script, screenshot))


async def _drive(ws_url: str, url: str, script: str, screenshot: Path | None) -> Seen:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, max_msg_size=0) as socket:
            devtools = _DevTools(socket)
            for domain in ("Page", "Runtime", "Log", "Network"):
                await devtools.call(f"{domain}.enable")
            await devtools.call("Page.navigate", url=url)
            await devtools.wait_for("Page.loadEventFired")
            result = await devtools.call("Runtime.evaluate", expression=script, returnByValue=True)
            if "exceptionDetails" in result:
                raise AssertionError(f"the test's script failed: {result['exceptionDetails']}")
            if screenshot is not None:
                height = (await devtools.call("Runtime.evaluate", returnByValue=True,
                                              expression="document.documentElement.scrollHeight"))
                height = int(height["result"]["value"])
                await devtools.call("Emulation.setDeviceMetricsOverride", width=WIDTH,
                                    height=height, deviceScaleFactor=1, mobile=False)
                shot = await devtools.call("Page.captureScreenshot", format="png")
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            return Seen(result["result"].get("value"), devtools.errors(), devtools.requests())


class _DevTools:
    def __init__(self, socket):
        self._socket = socket
        self._next_id = 0
        self.events = []

    async def call(self, method: str, **params) -> dict:
        self._next_id += 1
        ident = self._next_id
        await self._socket.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def wait_for(self, method: str) -> dict:
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            await self._receive()

    async def _receive(self) -> dict:
        message = await asyncio.wait_for(self._socket.receive_json(), CALL_SECONDS)
        if "method" in message:
            self.events.append(message)
        return message

    def errors(self) -> list:
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(params)
            elif method == "Runtime.exceptionThrown":
                found.append(params)
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"])
            elif method == "Network.loadingFailed":
                found.append(params)
        return found

    def requests(self) -> list:
        return [event["params"]["request"]["url"] for event in self.events
                if event["method"] == "Network.requestWillBeSent"
                and not event["params"]["request"]["url"].startswith(("file:", "data:"))]


def png_colors(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(distinct colours, the commonest colour's share of the pixels, (width, height)) of an
    8-bit, non-interlaced RGB or RGBA PNG (what chromium writes)."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color_type in (2, 6) and interlace == 0, "unexpected PNG format"
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    channels = 3 if color_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    colours = Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        if row % 4 == 0:   # every fourth row is enough to tell a page from a blank
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, channels * 2))
        previous = line
    total = sum(colours.values())
    return len(colours), colours.most_common(1)[0][1] / total, (width, height)
