"""`./run.sh` (or `./run.sh demo ARGS`): the job over the bundled samples against a local sandbox.

Starts the Gainsight sandbox on a free loopback port (with a few injected 503s, so the retry
path shows in the counts), runs the job over samples/, prints the summary table and where the
dead letters and the received messages are, and stops the sandbox. ARGS are added to the demo's
own flags (after them, so a flag given again overrides the demo's value).
"""
import shutil
import sys
import uuid
from pathlib import Path

from pipeline.main import run
from pipeline.options import ACCESS_KEY_ENV
from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OUTPUT = ROOT / "output" / "demo"
WHITELIST = "Order Completed,Signed Up,Feature Used,Report Exported"
DEMO_FAULTS = FaultConfig(rate_503=0.05, seed=42)


def demo_args(endpoint: str) -> list[str]:
    return ["--input", str(SAMPLES / "segment-logs" / "*" / "*" / "*.gz"),
            "--account_mapping", str(SAMPLES / "account_mapping.csv"),
            "--track_whitelist", WHITELIST,
            "--gainsight_endpoint", endpoint,
            "--dead_letter", str(OUTPUT / "dead-letter"),
            "--summary", str(OUTPUT / "summary.json")]


def main(argv: list[str] | None = None) -> int:
    """argv (default: the command line's) is added to the demo's flags and passed to the job."""
    extra = sys.argv[1:] if argv is None else list(argv)
    shutil.rmtree(OUTPUT, ignore_errors=True)
    (OUTPUT / "sandbox").mkdir(parents=True)
    access_key = str(uuid.uuid4())  # the sandbox's key for this demo only
    with SandboxProcess(access_key, DEMO_FAULTS, directory=OUTPUT / "sandbox") as sandbox:
        print(f"sandbox: {sandbox.url} (5% injected 503s)")
        code = run(demo_args(sandbox.url) + extra, environ={ACCESS_KEY_ENV: access_key})
        received = sandbox.received()
    print(f"received by the sandbox: {len(received)} messages in {sandbox.record_path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
