"""Calls per 1,000 events of `--destination gainsight-api` on a generated backfill, against the
pattern of RudderStack's Gainsight destination (one call per identify and per track, three per
group: query, insert or update, and the People link).

    python -m bench.gainsight_api_calls --events 20000 [--batch_size 10000] [--seed S]
    python -m bench.gainsight_api_calls --events 6000 --paced     # Gainsight's limits, the job's defaults

Generates the archive (bench.generate), runs the job (in this process) against the sandbox's
gainsight-api mode with tracks going to SegmentEvent__gc, and writes
bench/results/gainsight-api-calls-<events>.json:

    {"events": 20000, "sent": {"identify": ..., "group": ..., "track": ...},
     "calls": 1234, "calls_per_1000_sent": 95.1, "held": {"people": ..., "companies": ..., "rows": ...},
     "fewest_calls": ..., "rudderstack_pattern_calls": ...,
     "rudderstack_calls_per_1000_sent": 1100.0, "days_of_quota_per_million_sent": {...}}

The sandbox counts the calls it answers (its quota is set high so that none is refused; the
job's --max_requests_per_minute is raised likewise: this measures calls, not time). With
--paced, the sandbox enforces Gainsight's 100 calls a minute and the job runs with its default
cap (90 a minute): the result adds the most calls the sandbox saw in one wall-clock minute, the
calls it refused (429), and the run's seconds.
"""
import argparse
import json
from collections import Counter
import tempfile
import time
from pathlib import Path

from bench.generate import generate
from pipeline.main import run
from sandbox.process import SandboxProcess

RESULTS = Path(__file__).resolve().parent / "results"
KEY = "bench-gainsight-api-key"
DAY_QUOTA = 50_000   # Gainsight's calls a day per tenant


def measure(events: int, batch_size: int, seed: int, work: Path, paced: bool = False) -> dict:
    manifest = generate(events, work / "data", seed=seed)
    (work / "sandbox").mkdir()
    limits = {"requests_per_minute": 100 if paced else 10_000_000, "requests_per_day": 10_000_000}
    cap = [] if paced else ["--max_requests_per_minute", "100000"]
    started = time.monotonic()
    with SandboxProcess(KEY, directory=work / "sandbox", destination="gainsight-api",
                        api_options=limits) as sandbox:
        code = run(["--input", manifest["input"], "--account_mapping", manifest["account_mapping"],
                    "--track_whitelist", manifest["track_whitelist"],
                    "--destination", "gainsight-api", "--gainsight_domain", sandbox.url,
                    "--event_object", "SegmentEvent__gc", *cap,
                    "--batch_size", str(batch_size), "--dead_letter", str(work / "dead-letter"),
                    "--summary", str(work / "summary.json")], environ={"GAINSIGHT_ACCESS_KEY": KEY})
        stats = sandbox.stats()
        held = sandbox.records()
    seconds = time.monotonic() - started
    summary = json.loads((work / "summary.json").read_text())
    reasons = Counter()
    for path in work.glob("dead-letter*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["stage"] == "deliver":
                reasons[record["reason"][:70]] += 1
    sent = {kind: summary["by_type"][kind] for kind in ("identify", "group", "track")}
    total = sum(sent.values())
    calls = summary["requests"]
    rudderstack = sent["identify"] + sent["track"] + 3 * sent["group"]
    people, companies = len(held["people"]), len(held["companies"])
    rows = sum(len(object_rows) for object_rows in held["objects"].values())
    fewest = people + 2 * -(-companies // 50) + -(-rows // 50)
    return {
        "events": events, "batch_size": batch_size, "seed": seed, "exit_code": code,
        "paced": paced, "seconds": round(seconds, 1),
        "sandbox_max_calls_in_a_minute": stats["quota"]["max_calls_in_a_minute"],
        "sandbox_rate_limited": stats["quota"]["rate_limited"],
        "sent": sent, "delivered": summary["delivered"], "dead_lettered": summary["dead_lettered"],
        "dead_lettered_at_delivery": dict(reasons.most_common()),
        "calls": calls, "calls_answered_by_sandbox": stats["accepted"] + stats["bad_request"],
        "calls_per_1000_sent": round(1000 * calls / total, 1),
        "held": {"people": people, "companies": companies, "rows": rows},
        "fewest_calls": fewest,   # one upsert a person, a query and a write a 50 companies, 50 rows a call
        "rudderstack_pattern_calls": rudderstack,
        "rudderstack_calls_per_1000_sent": round(1000 * rudderstack / total, 1),
        "days_of_quota_per_million_sent": {
            "gainsight-api": round(1_000_000 * calls / total / DAY_QUOTA, 1),
            "rudderstack_pattern": round(1_000_000 * rudderstack / total / DAY_QUOTA, 1)},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gainsight_api_calls", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch_size", type=int, default=10_000,
                        help="the job's --batch_size (its default for gainsight-api: 10000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--paced", action="store_true",
                        help="Gainsight's 100 calls a minute at the sandbox, the job's default cap")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-gainsight-api-") as work:
        result = measure(args.events, args.batch_size, args.seed, Path(work), args.paced)
    RESULTS.mkdir(exist_ok=True)
    paced = "-paced" if args.paced else ""
    path = RESULTS / f"gainsight-api-calls-{args.events}-batch{args.batch_size}{paced}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written: {path}")
    return 0 if result["exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
