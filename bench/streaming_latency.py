"""B4, streaming latency: the delay from publishing an event to Pub/Sub to the Gainsight sandbox
accepting it, through the streaming job on the local runner.

    python -m bench.streaming_latency [--rate 20] [--seconds 30] [--job_args "--max_buffering_seconds 1"]

Publishes `rate` events per second for `seconds` over real gRPC to the Pub/Sub stand-in, runs
`python -m pipeline --input_subscription ...` against the sandbox, and reports the median, p90,
p99 and max of (accepted at the sandbox - published) per messageId, plus how many arrived.
Writes bench/results/streaming_latency.json.
"""
import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PROJECT = "bench-project"
TOPIC = f"projects/{PROJECT}/topics/segment"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/segment-to-gainsight"
STARTUP_SECONDS = 60
DRAIN_SECONDS = 60


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def event(n: int) -> dict:
    return {"type": "track", "userId": f"user-{n % 50}", "messageId": f"lat-{n}", "event": "Feature Used",
            "properties": {"feature": "export", "n": n}, "timestamp": "2026-11-28T12:00:00Z"}


def measure(rate: float, seconds: float, job_args: list[str]) -> dict:
    from google.cloud import pubsub_v1

    from sandbox.faults import FaultConfig
    from sandbox.process import SandboxProcess
    from sandbox.pubsub import PubSubStandIn

    key = str(uuid.uuid4())
    with tempfile.TemporaryDirectory() as work, PubSubStandIn() as pubsub, \
            SandboxProcess(key, FaultConfig(), directory=work) as sandbox:
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host
        pubsub.create_topic(TOPIC)
        pubsub.create_subscription(SUBSCRIPTION, TOPIC)
        env = {**os.environ, "GAINSIGHT_ACCESS_KEY": key}
        job = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--input_subscription", SUBSCRIPTION, "--project", PROJECT,
             "--gainsight_endpoint", sandbox.url, "--dead_letter", f"{work}/dead-letter", *job_args],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            publisher = pubsub_v1.PublisherClient()
            _wait_until_job_reads(publisher, sandbox)
            published = {}
            count = int(rate * seconds)
            start = time.monotonic()
            for n in range(count):
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
                published[f"lat-{n}"] = time.time()
                publisher.publish(TOPIC, json.dumps(event(n)).encode()).result(timeout=10)
            deadline = time.monotonic() + DRAIN_SECONDS
            while time.monotonic() < deadline and len(set(published) & set(sandbox.accepted_at())) < count:
                time.sleep(0.5)
            accepted = sandbox.accepted_at()
        finally:
            job.send_signal(signal.SIGINT)
            try:
                job.wait(timeout=60)
            except subprocess.TimeoutExpired:
                job.kill()
    delays = [accepted[m] - published[m] for m in published if m in accepted]
    return {"benchmark": "B4 streaming latency", "rate_per_second": rate, "seconds": seconds,
            "job_args": job_args, "published": len(published), "arrived": len(delays),
            "median_seconds": round(statistics.median(delays), 3) if delays else None,
            "p90_seconds": round(percentile(delays, 0.90), 3) if delays else None,
            "p99_seconds": round(percentile(delays, 0.99), 3) if delays else None,
            "max_seconds": round(max(delays), 3) if delays else None}


def _wait_until_job_reads(publisher, sandbox):
    """Publishes a warm-up event until the job has delivered one (the runner takes a while to start)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    publisher.publish(TOPIC, json.dumps(dict(event(-1), messageId="warm-up")).encode()).result(timeout=10)
    while time.monotonic() < deadline:
        if "warm-up" in sandbox.accepted_at():
            return
        time.sleep(0.25)
    raise TimeoutError(f"the streaming job did not deliver within {STARTUP_SECONDS}s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="events published per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to publish")
    parser.add_argument("--job_args", default="", help="extra flags for the streaming job")
    args = parser.parse_args(argv)
    result = measure(args.rate, args.seconds, shlex.split(args.job_args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "streaming_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["arrived"] == result["published"] else 1


if __name__ == "__main__":
    sys.exit(main())
