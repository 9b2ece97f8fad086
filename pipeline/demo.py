"""`./run.sh` (or `./run.sh demo ARGS`): the job over the bundled samples against a local sandbox.
`./run.sh demo --stream [--rate N]` runs the live job over them instead (pipeline.demo_stream).

Starts the Gainsight sandbox on a free loopback port (with a few injected 503s, so the retry
path shows in the counts), runs the job over samples/, prints the summary table and where the
dead letters and the received messages are, and stops the sandbox. ARGS are added to the demo's
own flags (after them, so a flag given again overrides the demo's value). The run's delivery
report is output/demo/report.html (docs/report.md).
"""
import shutil
import sys
import argparse
import uuid
from pathlib import Path

from pipeline import demo_stream
from pipeline.main import run
from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess
from transforms.delivery import destinations

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OUTPUT = ROOT / "output" / "demo"
WHITELIST = "Order Completed,Signed Up,Feature Used,Report Exported"
DEMO_FAULTS = FaultConfig(rate_503=0.05, seed=42)


def demo_args(endpoint: str, destination: str = destinations.DEFAULT) -> list[str]:
    # Gainsight CS's REST API is on the tenant's domain; tracks go to the custom object the
    # sandbox holds (docs/gainsight-api.md)
    where = (["--gainsight_domain", endpoint, "--event_object", "SegmentEvent__gc"]
             if destination == "gainsight-api" else ["--gainsight_endpoint", endpoint])
    return ["--input", str(SAMPLES / "segment-logs" / "*" / "*" / "*.gz"),
            "--account_mapping", str(SAMPLES / "account_mapping.csv"),
            "--track_whitelist", WHITELIST,
            *where,
            "--dead_letter", str(OUTPUT / "dead-letter"),
            "--summary", str(OUTPUT / "summary.json"),
            "--report", str(OUTPUT / "report.html")]


def demo_key(destination: str) -> str:
    """A key of the destination's shape, for this demo's sandbox only."""
    if destination == "gainsight-px":
        return "AP-DEMO" + uuid.uuid4().hex[:12].upper() + "-1"
    return str(uuid.uuid4())


def chosen_destination(extra: list[str]) -> str:
    """The --destination among the extra arguments (the demo's sandbox must speak it)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--destination", default=destinations.DEFAULT)
    return parser.parse_known_args(extra)[0].destination


def main(argv: list[str] | None = None) -> int:
    """argv (default: the command line's) is added to the demo's flags and passed to the job;
    `--destination gainsight-px` (or gainsight-api) runs the demo against the sandbox in that
    mode."""
    extra = sys.argv[1:] if argv is None else list(argv)
    if "--stream" in extra:
        extra.remove("--stream")
        return demo_stream.main(extra)
    destination = chosen_destination(extra)
    if destination not in destinations.DESTINATIONS:
        print(f"demo: --destination must be one of {', '.join(destinations.DESTINATIONS)}", file=sys.stderr)
        return 2
    shutil.rmtree(OUTPUT, ignore_errors=True)
    (OUTPUT / "sandbox").mkdir(parents=True)
    key = demo_key(destination)
    environ = {destinations.get(destination).credential.env: key}
    with SandboxProcess(key, DEMO_FAULTS, directory=OUTPUT / "sandbox", destination=destination) as sandbox:
        print(f"sandbox: {sandbox.url} ({destination}, 5% injected 503s)")
        code = run(demo_args(sandbox.url, destination) + extra, environ=environ)
        received = sandbox.received()
        held = sandbox.records() if destination == "gainsight-api" else None
    if held is None:
        print(f"received by the sandbox: {len(received)} messages in {sandbox.record_path}")
    else:
        print(f"received by the sandbox: {len(received)} API calls in {sandbox.record_path}; it holds "
              f"{len(held['people'])} People, {len(held['companies'])} Companies and "
              f"{len(held['objects']['SegmentEvent__gc'])} SegmentEvent__gc rows")
    return code


if __name__ == "__main__":
    sys.exit(main())
