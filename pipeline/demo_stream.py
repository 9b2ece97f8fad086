"""`./run.sh demo --stream [--rate N]`: the live job over the bundled samples, through Pub/Sub.

Starts Google's Pub/Sub emulator (the stand-in where it is missing: sandbox/pubsub_emulator.py)
and the Gainsight sandbox, creates the topic, the job's subscription, the dead-letter topic and a
subscription reading it, starts `python -m pipeline --input_subscription ...`, publishes every
non-blank line of samples/segment-logs/** at N messages a second with a progress line, stops the
job (as Ctrl-C does) once every sample has its outcome (the answer key's count delivered and
dead-lettered, samples/expected_summary.json), prints the job's summary and the dead letters read
back from the dead-letter topic, and stops everything it started, also on Ctrl-C.

    stream: published 180/413 (40/s)  delivered 97/218  dead letters 9/20

Exit 0: every sendable sample delivered once, every bad one dead-lettered, the job's summary
balanced; 1: not so (what is missing is printed); 130: stopped by Ctrl-C (or SIGTERM).
Output in output/demo-stream/: job.log (the job's own log), dead-letter.jsonl, sandbox/.
"""
import argparse
import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess
from sandbox.pubsub_emulator import describe, own_group_ended_with_parent, start_pubsub
from transforms.delivery import destinations

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OUTPUT = ROOT / "output" / "demo-stream"
WHITELIST = "Order Completed,Signed Up,Feature Used,Report Exported"
PROJECT = "demo-project"
TOPIC = f"projects/{PROJECT}/topics/segment"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/segment-to-gainsight"
DEAD_TOPIC = f"projects/{PROJECT}/topics/segment-dead-letter"
DEAD_SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/dead-letter-audit"
DEFAULT_RATE = 40.0
OUTCOME_WAIT_SECONDS = 180  # after the last publish, for the last outcomes
STOP_WAIT_SECONDS = 90  # for the job to print its summary once told to stop
PROGRESS_SECONDS = 0.5
INTERRUPTED = 130


def sample_lines(root: Path = SAMPLES) -> list[bytes]:
    """Every non-blank line of the bundled archive, file by file in name order (a blank line is
    not an event, and Pub/Sub takes no empty message)."""
    lines = []
    for path in sorted((root / "segment-logs").glob("**/*.gz")):
        with gzip.open(path, "rb") as handle:
            lines += [line.rstrip(b"\r\n") for line in handle if line.strip()]
    return lines


def expected_outcomes(root: Path = SAMPLES) -> dict:
    """{"delivered": n, "dead_lettered": n} the answer key gives the samples."""
    answer = json.loads((root / "expected_summary.json").read_text())
    return {"delivered": answer["sent"], "dead_lettered": answer["invalid"]}


def progress_line(published: int, total: int, rate: float, delivered: int, dead: int,
                  expected: dict) -> str:
    """The line the demo prints as it publishes.

    >>> progress_line(180, 413, 40.0, 97, 9, {"delivered": 218, "dead_lettered": 20})
    'stream: published 180/413 (40/s)  delivered 97/218  dead letters 9/20'
    """
    return (f"stream: published {published}/{total} ({rate:g}/s)  "
            f"delivered {delivered}/{expected['delivered']}  "
            f"dead letters {dead}/{expected['dead_lettered']}")


def message_key(message: dict):
    """What tells two deliveries of one message apart: its messageId, else its identity."""
    return message.get("messageId") or (message.get("type"), message.get("userId"),
                                         message.get("anonymousId"), message.get("timestamp"))


def problems(received: list, dead: list, expected: dict, summary_lines: str) -> list[str]:
    """What went wrong, one sentence each (none: the demo succeeded).

    >>> problems([{"messageId": "a"}, {"messageId": "a"}], [], {"delivered": 2, "dead_lettered": 1},
    ...          "balanced  yes")
    ['delivered 2 messages, expected 2 different ones: 1 arrived more than once', 'dead-lettered 0, expected 1']
    """
    found = []
    copies = sum(n - 1 for n in collections.Counter(map(message_key, received)).values())
    if len(received) != expected["delivered"] or copies:
        found.append(f"delivered {len(received)} messages, expected {expected['delivered']} "
                     f"different ones: {copies} arrived more than once")
    if len(dead) != expected["dead_lettered"]:
        found.append(f"dead-lettered {len(dead)}, expected {expected['dead_lettered']}")
    if not any(line.split()[:2] == ["balanced", "yes"] for line in summary_lines.splitlines()):
        found.append("the job's summary is missing or does not balance")
    return found


def job_command(endpoint: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "--input_subscription", SUBSCRIPTION,
            "--dead_letter_topic", DEAD_TOPIC, "--project", PROJECT,
            "--account_mapping", str(SAMPLES / "account_mapping.csv"),
            "--track_whitelist", WHITELIST, "--gainsight_endpoint", endpoint,
            "--max_buffering_seconds", "1"]


def summary_table(stdout: str) -> str:
    """The job's summary: what it printed after its "streaming: ..." start line."""
    lines = stdout.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("streaming:")]
    return "\n".join(lines[starts[-1] + 1:] if starts else lines).strip()


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


class _Outcomes:
    """Delivered (at the sandbox) and dead-lettered (read back from the topic) so far."""

    def __init__(self, pubsub, sandbox):
        self._pubsub = pubsub
        self._sandbox = sandbox
        self.dead: list = []
        self.delivered = 0

    def poll(self) -> None:
        self.delivered = len(self._sandbox.received())
        pulled = self._pubsub.pull(DEAD_SUBSCRIPTION, wait_seconds=0)
        self.dead += [json.loads(data) for data, _ in pulled]

    def complete(self, expected: dict) -> bool:
        return (self.delivered >= expected["delivered"]
                and len(self.dead) >= expected["dead_lettered"])


class _Progress:
    """The progress line: rewritten in place on a terminal, every few seconds elsewhere."""

    def __init__(self, out=sys.stdout):
        self._out = out
        self._tty = out.isatty()
        self._last = 0.0
        self._text = ""

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if text == self._text or not (force or self._tty or now - self._last >= 3):
            return
        self._text, self._last = text, now
        self._out.write(("\r" + text + "\033[K") if self._tty else text + "\n")
        self._out.flush()

    def end(self) -> None:
        if self._tty and self._text:
            self._out.write("\n")
            self._out.flush()


def _publish_all(lines, rate, outcomes, progress, expected):
    from google.cloud import pubsub_v1  # pylint: disable=import-outside-toplevel
    publisher = pubsub_v1.PublisherClient()
    start = next_poll = time.monotonic()
    pending = []
    for n, line in enumerate(lines, 1):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        pending.append(publisher.publish(TOPIC, line))
        if time.monotonic() >= next_poll:
            outcomes.poll()
            progress.show(progress_line(n, len(lines), rate, outcomes.delivered, len(outcomes.dead), expected))
            next_poll = time.monotonic() + PROGRESS_SECONDS
    for future in pending:
        future.result(timeout=60)


def _wait_for_outcomes(job, lines, rate, outcomes, progress, expected) -> str | None:
    """Waits until every sample has its outcome; else why not."""
    deadline = time.monotonic() + OUTCOME_WAIT_SECONDS
    while time.monotonic() < deadline:
        outcomes.poll()
        done = outcomes.complete(expected)
        progress.show(progress_line(len(lines), len(lines), rate, outcomes.delivered,
                                    len(outcomes.dead), expected), force=done)
        if done:
            return None
        if job.poll() is not None:
            return f"the job ended on its own with exit code {job.returncode} (see {OUTPUT / 'job.log'})"
        time.sleep(PROGRESS_SECONDS)
    return f"not every sample had its outcome within {OUTCOME_WAIT_SECONDS} s of the last publish"


def _job_started() -> None:
    """In the job's process before exec: its own group, ended with the demo (as the emulator),
    and SIGINT's default action back, which a demo started where SIGINT is ignored (a script's
    background job, a CI runner) would otherwise hand down: the Ctrl-C that stops the job
    would be ignored."""
    own_group_ended_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_job(job) -> tuple[str, str | None]:
    """Stops the job as Ctrl-C does -> (what it printed on stdout, how it ended when that was
    not by itself after the Ctrl-C, for the problems)."""
    if job.poll() is None:
        job.send_signal(signal.SIGINT)
    try:
        stdout, _ = job.communicate(timeout=STOP_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        job.kill()
        stdout, _ = job.communicate()
        return stdout or "", (f"the job did not stop within {STOP_WAIT_SECONDS} s of its Ctrl-C and was "
                              f"killed (see {OUTPUT / 'job.log'})")
    ended = None if job.returncode >= 0 else (
        f"the job was ended by signal {-job.returncode} (see {OUTPUT / 'job.log'})")
    return stdout or "", ended


def _fresh_output() -> Path:
    """OUTPUT without a previous run's files; the sandbox's directory in it."""
    sandbox_dir = OUTPUT / "sandbox"
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    for stale in [OUTPUT / "dead-letter.jsonl", OUTPUT / "job.log", *sandbox_dir.iterdir()]:
        stale.unlink(missing_ok=True)
    return sandbox_dir


def _create_topics(pubsub) -> None:
    pubsub.create_topic(TOPIC)
    pubsub.create_subscription(SUBSCRIPTION, TOPIC)
    pubsub.create_topic(DEAD_TOPIC)
    pubsub.create_subscription(DEAD_SUBSCRIPTION, DEAD_TOPIC)
    print(f"topics: {TOPIC} -> {SUBSCRIPTION}; dead letters {DEAD_TOPIC} -> {DEAD_SUBSCRIPTION}",
          flush=True)


def _report(stdout: str, dead: list, received: list, received_path: Path, expected: dict,
            found: list) -> int:
    """Prints the job's summary, where the dead letters went and what the sandbox received;
    the exit code."""
    print(summary_table(stdout))
    with (OUTPUT / "dead-letter.jsonl").open("w") as out:
        out.writelines(json.dumps(record) + "\n" for record in dead)
    stages = collections.Counter(record.get("stage") for record in dead)
    print(f"dead letters: {len(dead)} records published to {DEAD_TOPIC}, read back through "
          f"{DEAD_SUBSCRIPTION} into {OUTPUT / 'dead-letter.jsonl'} "
          f"(by stage: {', '.join(f'{s} {n}' for s, n in sorted(stages.items())) or 'none'})")
    print(f"received by the sandbox: {len(received)} messages in {received_path}")
    found = found + problems(received, dead, expected, summary_table(stdout))
    for problem in found:
        print(f"demo: {problem}", file=sys.stderr)
    return 1 if found else 0


def run_stream_demo(rate: float) -> int:
    lines, expected = sample_lines(), expected_outcomes()
    sandbox_dir = _fresh_output()
    key = str(uuid.uuid4())
    credential = destinations.get(destinations.DEFAULT).credential.env
    progress = _Progress()
    job = None
    stdout = ""
    found: list[str] = []
    with start_pubsub() as pubsub, \
            SandboxProcess(key, FaultConfig(rate_503=0.05, seed=42), directory=sandbox_dir) as sandbox:
        print(f"pubsub: {describe(pubsub)}" + (f" (pid {pubsub.process.pid})" if pubsub.kind == "emulator" else ""),
              flush=True)
        print(f"sandbox: {sandbox.url} (gainsight, 5% injected 503s)", flush=True)
        _create_topics(pubsub)
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host
        env = {**os.environ, credential: key, "PYTHONFAULTHANDLER": "1"}   # a crash leaves its trace in job.log
        try:
            with (OUTPUT / "job.log").open("w") as log:
                job = subprocess.Popen(job_command(sandbox.url), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=log, text=True, preexec_fn=_job_started)
            print(f"job: python -m pipeline --input_subscription {SUBSCRIPTION} ... (pid {job.pid}, "
                  f"log {OUTPUT / 'job.log'})", flush=True)
            outcomes = _Outcomes(pubsub, sandbox)
            print(f"publishing {len(lines)} sample events at {rate:g}/s", flush=True)
            _publish_all(lines, rate, outcomes, progress, expected)
            missing = _wait_for_outcomes(job, lines, rate, outcomes, progress, expected)
            if missing is None:
                time.sleep(2)  # a copy sent twice would have arrived by now
            progress.end()
            print("stopping the job" + (f": {missing}" if missing else " (every sample has its outcome)"),
                  flush=True)
            found += [missing] if missing else []
            stdout, ended = _stop_job(job)
            found += [ended] if ended else []
            outcomes.poll()
        except KeyboardInterrupt:
            progress.end()
            print("\ndemo: interrupted; stopping the job, the sandbox and Pub/Sub", file=sys.stderr, flush=True)
            if job is not None:
                stdout, _ = _stop_job(job)
                print(summary_table(stdout))
            return INTERRUPTED
        finally:
            if job is not None and job.poll() is None:
                job.kill()
                job.wait()
        received = sandbox.received()
    return _report(stdout, outcomes.dead, received, sandbox.record_path, expected, found)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./run.sh demo --stream", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help=f"sample events published per second (default {DEFAULT_RATE:g})")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be above 0")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_stream_demo(args.rate)
    except KeyboardInterrupt:  # before the job started, or while Pub/Sub was starting
        print("\ndemo: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
