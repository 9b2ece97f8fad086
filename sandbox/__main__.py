"""Run the sandbox receiver until SIGTERM/SIGINT.

    GAINSIGHT_ACCESS_KEY=secret python -m sandbox --port 0 --port_file /tmp/port \\
        --record /tmp/received.jsonl --rate_503 0.1 --seed 3
    sandbox listening on http://127.0.0.1:41234

    GAINSIGHT_PX_API_KEY=AP-secret python -m sandbox --destination gainsight-px \\
        --outage_after_seconds 5 --outage_seconds 90
    sandbox (gainsight-px) listening on http://127.0.0.1:41235

    GAINSIGHT_ACCESS_KEY=secret python -m sandbox --destination gainsight-api \
        --requests_per_minute 100 --requests_per_day 50000
    sandbox (gainsight-api) listening on http://127.0.0.1:41236

The key comes from --access_key or the destination's variable (GAINSIGHT_ACCESS_KEY, or
GAINSIGHT_PX_API_KEY for gainsight-px) and is never printed.
"""

import argparse
import asyncio
import ipaddress
import os
import signal
from pathlib import Path

from aiohttp import web

from sandbox.faults import FaultConfig
from sandbox.port_file import write_port_file
from sandbox.server import DESTINATIONS, GAINSIGHT, KEY_ENV_BY_DESTINATION, make_app

SHUTDOWN_TIMEOUT_SECONDS = 1.0
_FAULT_OPTION_TYPES = {"rate_503": float, "rate_429": float, "retry_after_seconds": int,
                       "latency_ms": float, "drop_rate": float, "stall_rate": float,
                       "stall_seconds": float, "rate_400": float, "seed": int,
                       "outage_after_seconds": float, "outage_seconds": float}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--destination", choices=DESTINATIONS, default=GAINSIGHT,
                        help="whose Segment contract to serve (path and credential)")
    parser.add_argument(
        "--access_key",
        help="the key to expect (default: " + " or ".join(
            f"${env} for {name}" for name, env in KEY_ENV_BY_DESTINATION.items()) + ")",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port_file", type=Path, help="file that receives the port once listening")
    parser.add_argument("--record", type=Path, help="JSON-lines file of accepted messages")
    parser.add_argument("--record_times", type=Path,
                        help="file of `messageId<TAB>unix time` per accepted message (latency figures)")
    parser.add_argument("--requests_per_minute", type=int, default=100,
                        help="gainsight-api: calls allowed per wall-clock minute (429 GU_2400 past it)")
    parser.add_argument("--requests_per_day", type=int, default=50_000,
                        help="gainsight-api: calls allowed per UTC day")
    parser.add_argument("--unnamed_errors", action="store_true",
                        help="gainsight-api: a validation failure does not name the bad records")
    defaults = FaultConfig()
    for name, option_type in _FAULT_OPTION_TYPES.items():
        parser.add_argument(f"--{name}", type=option_type, default=getattr(defaults, name))
    args = parser.parse_args(argv)

    key_env = KEY_ENV_BY_DESTINATION[args.destination]
    args.access_key = args.access_key or os.environ.get(key_env)
    if not args.access_key:
        parser.error(f"an access key is required: --access_key or ${key_env}")
    if not _is_loopback(args.host):
        parser.error(f"--host must be a loopback IP address such as 127.0.0.1, got {args.host!r}")
    try:
        args.faults = FaultConfig(**{name: getattr(args, name) for name in _FAULT_OPTION_TYPES})
    except ValueError as error:
        parser.error(str(error))
    return args


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stop.set)
    app = make_app(args.access_key, args.faults, args.record, args.record_times,
                   args.destination, args.requests_per_minute, args.requests_per_day,
                   not args.unnamed_errors)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
        port = runner.addresses[0][1]
        if args.port_file is not None:
            write_port_file(args.port_file, port)
        host = f"[{args.host}]" if ":" in args.host else args.host
        mode = "" if args.destination == GAINSIGHT else f" ({args.destination})"
        print(f"sandbox{mode} listening on http://{host}:{port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()  # waits for in-flight requests, then flushes the record


def main() -> None:
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
