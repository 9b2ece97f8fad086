"""B4, streaming latency: the delay from publishing an event to Pub/Sub to the Gainsight sandbox
accepting it, through the streaming job on the local runner.

    python -m bench.streaming_latency [--rate 20] [--seconds 30] [--job_args "--max_buffering_seconds 1"]
    python -m bench.streaming_latency --rates 25,50,100 --seconds 30   # one run per rate

Publishes `rate` events per second for `seconds` over real gRPC to Google's Pub/Sub emulator
(the stand-in, sandbox/pubsub.py, where it is missing or SEGMENT_TO_GAINSIGHT_PUBSUB=standin), runs
`python -m pipeline --input_subscription ...` against the sandbox, and reports the median, p90,
p99 and max of (accepted at the sandbox - published) per messageId, plus how many arrived and
whether the job kept up (keeps_up): every event arrived and the median delay of the last quarter
published is at most KEEP_UP_SLACK_SECONDS above the first quarter's (a job that falls behind
builds a backlog, and the delay grows with it).
Writes bench/results/streaming_latency.json (a list with --rates).
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
KEEP_UP_SLACK_SECONDS = 2.0


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def keeps_up(delays_in_publish_order: list[float], published: int) -> bool:
    """All arrived, and the last quarter's median delay is within the slack of the first's.

    >>> keeps_up([1.0, 1.2, 1.1, 1.3, 1.2, 1.4, 1.1, 1.2], 8), keeps_up([1.0, 1.1, 2.0, 4.0], 4)
    (True, False)
    >>> keeps_up([1.0, 1.0], 3)
    False
    """
    if not delays_in_publish_order or len(delays_in_publish_order) < published:
        return False
    quarter = max(1, len(delays_in_publish_order) // 4)
    early = statistics.median(delays_in_publish_order[:quarter])
    late = statistics.median(delays_in_publish_order[-quarter:])
    return late <= early + KEEP_UP_SLACK_SECONDS


def event(n: int) -> dict:
    return {"type": "track", "userId": f"user-{n % 50}", "messageId": f"lat-{n}", "event": "Feature Used",
            "properties": {"feature": "export", "n": n}, "timestamp": "2026-11-28T12:00:00Z"}


def measure(rate: float, seconds: float, job_args: list[str]) -> dict:
    from google.cloud import pubsub_v1

    from sandbox.faults import FaultConfig
    from sandbox.process import SandboxProcess
    from sandbox.pubsub_emulator import describe, start_pubsub

    key = str(uuid.uuid4())
    with tempfile.TemporaryDirectory() as work, start_pubsub() as pubsub, \
            SandboxProcess(key, FaultConfig(), directory=work) as sandbox:
        print(describe(pubsub), file=sys.stderr, flush=True)
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
    delays = [accepted[m] - published[m] for m in published if m in accepted]  # publish order
    return {"benchmark": "B4 streaming latency", "pubsub": pubsub.kind, "rate_per_second": rate, "seconds": seconds,
            "job_args": job_args, "published": len(published), "arrived": len(delays),
            "median_seconds": round(statistics.median(delays), 3) if delays else None,
            "p90_seconds": round(percentile(delays, 0.90), 3) if delays else None,
            "p99_seconds": round(percentile(delays, 0.99), 3) if delays else None,
            "max_seconds": round(max(delays), 3) if delays else None,
            "keeps_up": keeps_up(delays, len(published))}


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
    parser.add_argument("--rates", default="",
                        help="comma-separated rates: one run each (instead of --rate), a line per run")
    parser.add_argument("--job_args", default="", help="extra flags for the streaming job")
    args = parser.parse_args(argv)
    rates = [float(rate) for rate in args.rates.split(",") if rate.strip()] or [args.rate]
    results = []
    for rate in rates:
        result = measure(rate, args.seconds, shlex.split(args.job_args))
        results.append(result)
        print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    written = results if args.rates else results[0]
    (RESULTS / "streaming_latency.json").write_text(json.dumps(written, indent=2) + "\n")
    return 0 if all(r["arrived"] == r["published"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
