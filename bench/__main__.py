"""`python -m bench` (`./run.sh bench ...`): the benchmarks. See bench/README.md.

    python -m bench                          B1, B2 and B3 at their default sizes
    python -m bench --smoke                  everything at tiny sizes (< 60 s; CI)
    python -m bench --only B1 --events 200000
    python -m bench --only B1 --repeat 3     median of three alternating rounds
    python -m bench --only B3 --sizes 100000,1000000,3000000
    python -m bench --only B1 --pipeline_args "--direct_num_workers 2 --direct_running_mode multi_processing"
    python -m bench --only B1 --destination_filters bench/ten_filters.json   # B1 with filters, job and baseline
    python -m bench --only B1 --report --repeat 3   B1 also with --report: what the report costs

B1 processing   N events through the job (--preview) and through bench.baseline, same input:
                events/s, wall, peak RSS of the process tree, job/baseline ratios; checks that
                both wrote the same multiset of requests and the same summary counts, and that
                the counts are the ones the generator planned. With --report, each round also
                runs the job with --report; its wall time against the job's is checked against
                REPORT_TARGET, and the page's funnel against its summary.
B2 delivery     the job delivering to the local sandbox (50 ms latency): achieved request rate at
                the sandbox vs C/latency with a high rate cap, then vs --max_requests_per_second R.
B3 scale        the job's wall time and peak memory at several sizes, and their growth per 10x.

Results: bench/results/<B1-processing|B2-delivery|B3-scale>.json (smoke- prefixed for --smoke);
exit status 1 when a check failed (mismatch, failed run), else 0.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson

from bench.generate import DEFAULT_SEED, GENERATOR_VERSION, default_files, generate
from bench.measure import measure, tail

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
NAMES = {"B1": "B1-processing", "B2": "B2-delivery", "B3": "B3-scale"}
ACCESS_KEY_ENV = "GAINSIGHT_ACCESS_KEY"

# Share of the generated lines that become requests (track whitelisted + identify + group,
# minus duplicates, invalid and opted-out lines): ~0.49 for bench.generate's mix. Used only to
# size B2's inputs; the exact count comes from the generator's manifest.
DELIVERABLE_SHARE = 0.49
HIGH_RATE = 100_000.0
SUMMARY_OUTCOMES = ("read", "invalid", "duplicates", "skipped_by_integrations", "unsupported",
                    "filtered", "previewed", "delivered", "dead_lettered")
RATE_TOLERANCE = 1.05   # a one-second window may exceed R by 5% + 2 (arrival jitter) before we flag it
REPORT_TARGET = 1.03    # B1 --report: the job with --report may take at most 3% more time


class Bench:
    """Shared settings and helpers of one `python -m bench` invocation."""

    def __init__(self, args):
        self.args = args
        self.results_dir = Path(args.results_dir)
        self.data_dir = Path(args.data_dir) if args.data_dir else self.results_dir / "data"
        self.work_dir = self.results_dir / ("smoke-work" if args.smoke else "work")
        self.pipeline_args = shlex.split(args.pipeline_args or "")
        self.failures: list[str] = []
        mem_total = _mem_total_bytes()
        self.rss_limit = int(args.max_rss_gb * 2**30) if args.max_rss_gb else (
            int(mem_total * 0.85) if mem_total else None)

    # ------------------------------------------------------------------ data and runs

    def dataset(self, events: int) -> dict:
        """The generated input of `events` lines (cached under data_dir by its parameters)."""
        files = self.args.files or default_files(events)
        files = max(1, min(files, events))
        name = f"n{events}-k{files}-s{self.args.seed}" + ("-plain" if self.args.plain else "")
        directory = self.data_dir / name
        manifest_path = directory / "manifest.json"
        if manifest_path.exists() and not self.args.regenerate:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("generator_version") == GENERATOR_VERSION:
                manifest["generate_seconds"] = None
                return manifest
        started = time.monotonic()
        _log(f"generating {events} events into {directory} ...")
        manifest = generate(events, directory, files=files, plain=self.args.plain, seed=self.args.seed)
        manifest["generate_seconds"] = round(time.monotonic() - started, 2)
        return manifest

    def fresh_dir(self, *parts) -> Path:
        directory = self.work_dir.joinpath(*parts)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        return directory

    def run_job(self, manifest: dict, out: Path, *, endpoint: str | None = None,
                access_key: str | None = None, extra=()) -> dict:
        """The job over the manifest's input: --preview into `out`, or delivering to endpoint."""
        command = [sys.executable, "-m", "pipeline",
                   "--input", manifest["input"],
                   "--track_whitelist", manifest["track_whitelist"],
                   "--account_mapping", manifest["account_mapping"],
                   "--dead_letter", str(out / "dead-letter"),
                   "--summary", str(out / "summary.json")]
        if endpoint is None:
            command += ["--preview", str(out / "preview")]
        else:
            command += ["--gainsight_endpoint", endpoint]
        if self.args.destination_filters:
            command += ["--destination_filters", self.args.destination_filters]
        command += list(extra) + self.pipeline_args
        env = {k: v for k, v in os.environ.items() if k != ACCESS_KEY_ENV}
        if access_key:
            env[ACCESS_KEY_ENV] = access_key
        return self._measured(command, out, env)

    def run_baseline(self, manifest: dict, out: Path) -> dict:
        command = [sys.executable, "-m", "bench.baseline",
                   "--input", manifest["input"],
                   "--track_whitelist", manifest["track_whitelist"],
                   "--account_mapping", manifest["account_mapping"],
                   "--out", str(out / "preview"),
                   "--dead_letter", str(out / "dead-letter"),
                   "--summary", str(out / "summary.json")]
        if self.args.destination_filters:
            command += ["--destination_filters", self.args.destination_filters]
        env = {k: v for k, v in os.environ.items() if k != ACCESS_KEY_ENV}
        return self._measured(command, out, env)

    def _measured(self, command, out: Path, env) -> dict:
        _log("running: " + " ".join(shlex.quote(part) for part in command))
        result = measure(command, env=env, cwd=str(ROOT), timeout=self.args.timeout,
                         log_prefix=out / "log", rss_limit_bytes=self.rss_limit)
        summary_path = out / "summary.json"
        result["summary"] = json.loads(summary_path.read_text()) if summary_path.exists() else None
        if result["returncode"] != 0 or result["summary"] is None:
            why = ("timed out" if result["timed_out"] else "killed: process tree over the memory limit"
                   if result["memory_exceeded"] else f"exit status {result['returncode']}")
            result["error"] = f"{why}\n{tail(out / 'log.stderr', 30)}"
            self.fail(f"run failed ({why}): {' '.join(command[:4])} ... (log: {out}/log.stderr)")
        read = (result["summary"] or {}).get("read") or 0
        result["events_per_second"] = round(read / result["wall_seconds"], 1) if result["wall_seconds"] else None
        return result

    def fail(self, message: str):
        self.failures.append(message)
        print("\n" + "!" * 78 + f"\n!! FAILED CHECK: {message}\n" + "!" * 78 + "\n", file=sys.stderr)

    def cleanup(self, *directories: Path):
        if not self.args.keep_outputs:
            for directory in directories:
                shutil.rmtree(directory, ignore_errors=True)

    # ------------------------------------------------------------------ B1

    def b1(self) -> dict:
        events = self.args.events
        manifest = self.dataset(events)
        jobs, bases, reports = [], [], []
        for _ in range(self.args.repeat):  # alternating, so a slow spell of the machine hits both
            job_out, base_out = self.fresh_dir("B1", "job"), self.fresh_dir("B1", "baseline")
            jobs.append(self.run_job(manifest, job_out))
            if self.args.report:
                report_out = self.fresh_dir("B1", "report")
                reports.append(self.run_job(manifest, report_out,
                                            extra=["--report", str(report_out / "report.html")]))
                reports[-1]["report_check"] = report_check(report_out)
                self.cleanup(report_out)
            bases.append(self.run_baseline(manifest, base_out))
            if jobs[-1].get("error") or bases[-1].get("error"):
                break
        job, base = median_run(jobs), median_run(bases)
        result = {"events": events, "files": manifest["files"], "dataset": _dataset_info(manifest),
                  "destination_filters": self.args.destination_filters,
                  "job": job, "baseline": base, "checks": {}, "rounds": len(jobs),
                  "wall_seconds_per_round": {"job": [run["wall_seconds"] for run in jobs],
                                             "baseline": [run["wall_seconds"] for run in bases]},
                  "max_rss_bytes_per_round": {"job": [run.get("max_rss_bytes") for run in jobs],
                                              "baseline": [run.get("max_rss_bytes") for run in bases]}}
        if reports:
            result["report"] = self._report_cost(jobs, reports)
        if jobs[-1].get("error") or bases[-1].get("error"):
            result["job"], result["baseline"] = jobs[-1], bases[-1]
            return result
        result["ratio_job_over_baseline"] = {
            "wall_seconds": _ratio(job["wall_seconds"], base["wall_seconds"]),
            "events_per_second": _ratio(job["events_per_second"], base["events_per_second"]),
            "peak_rss_bytes": _ratio(job["peak_rss_bytes"], base["peak_rss_bytes"]),
            "max_rss_bytes": _ratio(job.get("max_rss_bytes"), base.get("max_rss_bytes")),
            "cpu_seconds": _ratio(_cpu(job), _cpu(base)),
        }
        checks = result["checks"]
        job_digest = multiset_digest(sorted(glob.glob(str(job_out / "preview-*.jsonl"))))
        base_digest = multiset_digest(sorted(glob.glob(str(base_out / "preview-*.jsonl"))))
        checks["requests"] = {"job": job_digest, "baseline": base_digest,
                              "match": job_digest == base_digest}
        if job_digest != base_digest:
            checks["requests"]["differences"] = diff_previews(
                sorted(glob.glob(str(job_out / "preview-*.jsonl"))),
                sorted(glob.glob(str(base_out / "preview-*.jsonl"))))
            self.fail(f"B1: the job and the baseline wrote different requests "
                      f"(job {job_digest['lines']} lines, baseline {base_digest['lines']}); "
                      f"examples in {NAMES['B1']}.json checks.requests.differences")
        differing = {key: {"job": job["summary"].get(key), "baseline": base["summary"].get(key)}
                     for key in sorted(set(job["summary"]) | set(base["summary"]))
                     if job["summary"].get(key) != base["summary"].get(key)}
        checks["summary"] = {"match": not differing, "differences": differing}
        if differing:
            self.fail(f"B1: the job's and the baseline's summaries differ: {differing}")
        # The generator plans the counts without filters: with them, the baseline is the check.
        unexpected = ({} if self.args.destination_filters
                      else expectation_differences(manifest["expected"], job["summary"]))
        checks["generator_expectation"] = {"match": not unexpected, "differences": unexpected,
                                           "skipped": bool(self.args.destination_filters)}
        if unexpected:
            self.fail(f"B1: the job's counts differ from what the generator planned: {unexpected}")
        self.cleanup(job_out, base_out)
        return result

    def _report_cost(self, jobs: list[dict], reports: list[dict]) -> dict:
        """The job with --report against the job without, median rounds; checked."""
        job, with_report = median_run(jobs), median_run(reports)
        ratio = _ratio(with_report["wall_seconds"], job["wall_seconds"])
        cpu = statistics.median(_cpu(run) or 0 for run in reports)
        job_cpu = statistics.median(_cpu(run) or 0 for run in jobs)
        result = {"wall_seconds": with_report["wall_seconds"], "ratio_over_job": ratio,
                  "target": REPORT_TARGET,
                  "wall_seconds_per_round": [run["wall_seconds"] for run in reports],
                  "cpu_seconds_per_round": [_cpu(run) for run in reports],
                  "job_cpu_seconds_per_round": [_cpu(run) for run in jobs],
                  "cpu_ratio_over_job": _ratio(cpu, job_cpu),
                  "max_rss_bytes": with_report.get("max_rss_bytes"),
                  "checks": [run.get("report_check") for run in reports]}
        if ratio is not None and ratio > REPORT_TARGET:
            self.fail(f"B1 --report: the job took {ratio:.3f} times as long with --report "
                      f"(target {REPORT_TARGET})")
        for check in result["checks"]:
            if check and not check["match"]:
                self.fail(f"B1 --report: the report's funnel differs from the summary: {check}")
        return result

    # ------------------------------------------------------------------ B2

    def b2(self) -> dict:
        from sandbox.faults import FaultConfig
        from sandbox.process import SandboxProcess

        concurrency, rate, latency = self.args.concurrency, self.args.rate, self.args.latency_ms
        seconds = self.args.b2_seconds
        ideal_concurrency_rate = concurrency / (latency / 1000.0) if latency > 0 else math.inf
        result = {"latency_ms": latency, "max_concurrent_requests": concurrency,
                  "target_seconds": seconds, "runs": {}}
        plans = (("concurrency", HIGH_RATE, ideal_concurrency_rate),
                 ("rate_limited", rate, min(rate, ideal_concurrency_rate)))
        key = str(uuid.uuid4())  # this run's sandbox key, passed to the job through its environment
        for label, cap, ideal in plans:
            events = max(50, math.ceil(ideal * seconds / DELIVERABLE_SHARE))
            manifest = self.dataset(events)
            out = self.fresh_dir("B2", label)
            checkpoint = out / "checkpoint"
            extra = ["--max_concurrent_requests", str(concurrency), "--max_requests_per_second", f"{cap:g}"]
            if self.args.checkpoint:
                extra += ["--checkpoint", str(checkpoint)]
            with SandboxProcess(key, FaultConfig(latency_ms=latency)) as sandbox:
                job = self.run_job(manifest, out, endpoint=sandbox.url, access_key=key, extra=extra)
                stats = sandbox.stats()
            rates = arrival_rates(stats.get("arrivals_per_second", {}))
            run = {"events": events, "dataset": _dataset_info(manifest),
                   "max_requests_per_second": cap, "ideal_rate": ideal,
                   "job": job, "sandbox": {k: v for k, v in stats.items()
                                           if k not in ("arrivals_per_second", "accepted_per_second")},
                   "arrivals": rates,
                   "achieved_over_ideal": _ratio(rates["steady_rate"], ideal)}
            run["arrivals"]["per_second"] = [count for count in rates.pop("series")]
            if self.args.checkpoint:
                run["checkpoint"] = checkpoint_size(checkpoint, (job.get("summary") or {}).get("delivered"))
            self._check_delivery(label, run, manifest, job, stats, concurrency)
            if label == "rate_limited":
                run["max_one_second_over_rate"] = _ratio(rates["max_one_second"], cap)
                run["cap_held"] = rates["max_one_second"] <= cap * RATE_TOLERANCE + 2
                if not run["cap_held"]:
                    self.fail(f"B2: {rates['max_one_second']} requests arrived within one second, "
                              f"over --max_requests_per_second {cap:g}")
            result["runs"][label] = run
            self.cleanup(out)
        return result

    def _check_delivery(self, label, run, manifest, job, stats, concurrency):
        summary = job.get("summary")
        if not summary:
            return
        expected = manifest["expected"]["previewed"]
        checks = {
            "delivered_as_planned": summary.get("delivered") == expected,
            "no_dead_letters": summary.get("dead_lettered") == 0,
            "sandbox_accepted_all": stats.get("accepted") == summary.get("delivered"),
            "in_flight_within_cap": stats.get("max_in_flight", 0) <= concurrency,
        }
        run["checks"] = checks
        for name, ok in checks.items():
            if not ok:
                self.fail(f"B2 {label}: {name} is false (planned {expected}, delivered "
                          f"{summary.get('delivered')}, dead-lettered {summary.get('dead_lettered')}, "
                          f"sandbox accepted {stats.get('accepted')}, max in flight "
                          f"{stats.get('max_in_flight')} vs {concurrency})")

    # ------------------------------------------------------------------ B3

    def b3(self) -> dict:
        sizes = self.args.sizes
        points = []
        for size in sizes:
            manifest = self.dataset(size)
            out = self.fresh_dir("B3", str(size))
            job = self.run_job(manifest, out)
            point = {"events": size, "dataset": _dataset_info(manifest), "job": job,
                     "wall_seconds": job["wall_seconds"], "peak_rss_bytes": job["peak_rss_bytes"],
                     "max_rss_bytes": job.get("max_rss_bytes"),
                     "peak_pss_bytes": job["peak_pss_bytes"], "events_per_second": job["events_per_second"]}
            if job.get("summary"):
                unexpected = expectation_differences(manifest["expected"], job["summary"])
                point["generator_expectation_match"] = not unexpected
                if unexpected:
                    self.fail(f"B3 {size}: the job's counts differ from the generator's plan: {unexpected}")
            points.append(point)
            self.cleanup(out)
            if job.get("error"):
                break   # a bigger size would fail the same way
        growth = []
        for before, after in zip(points, points[1:]):
            if before["job"].get("error") or after["job"].get("error"):
                continue
            growth.append({"from": before["events"], "to": after["events"],
                           "wall_per_10x": _per_decade(before, after, "wall_seconds"),
                           "peak_rss_per_10x": _per_decade(before, after, "peak_rss_bytes"),
                           "rss_bytes_per_extra_event": _per_extra_event(before, after, "peak_rss_bytes"),
                           "max_rss_bytes_per_extra_event": _per_extra_event(before, after, "max_rss_bytes")})
        return {"sizes": sizes, "points": points, "growth": growth}


# ---------------------------------------------------------------------- analysis helpers

def report_check(out: Path) -> dict:
    """Whether the report in `out` shows the funnel of the summary next to it."""
    import re  # pylint: disable=import-outside-toplevel
    from transforms.common.counters import OUTCOMES  # pylint: disable=import-outside-toplevel
    try:
        page = (out / "report.html").read_text(encoding="utf-8")
        summary = json.loads((out / "summary.json").read_text())
    except OSError as err:
        return {"match": False, "error": str(err)}
    shown = {name: int(value) for name, value in
             re.findall(r'data-funnel="([^"]+)" data-value="(\d+)"', page)}
    expected = {name: summary[name] for name in ("read",) + OUTCOMES}
    return {"match": shown == expected, "bytes": len(page.encode("utf-8")),
            **({} if shown == expected else {"shown": shown, "expected": expected})}


def checkpoint_size(directory: Path, settled: int | None) -> dict:
    """{"bytes": total size of the settled files, "bytes_per_event": per settled event}."""
    total = sum(path.stat().st_size for path in directory.glob("settled-*.jsonl"))
    return {"bytes": total, "bytes_per_event": total / settled if settled else None}


def expectation_differences(expected: dict, summary: dict) -> dict:
    """{key: {"expected", "job"}} where the summary differs from the generator's plan.

    Nested counts (by_type, unsupported_by_type) compare per sub-key, a missing one being 0.
    """
    differences = {}
    for key, value in expected.items():
        actual = summary.get(key)
        if isinstance(value, dict):
            actual = actual if isinstance(actual, dict) else {}
            keys = set(value) | set(actual)
            if any(value.get(k, 0) != actual.get(k, 0) for k in keys):
                differences[key] = {"expected": value, "job": actual}
        elif actual != value:
            differences[key] = {"expected": value, "job": actual}
    return differences


def multiset_digest(paths) -> dict:
    """Order-independent digest of the lines of `paths`: count and sum of 128-bit hashes."""
    total = lines = 0
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                line = line.rstrip(b"\n")
                if line:
                    total = (total + int.from_bytes(hashlib.blake2b(line, digest_size=16).digest(), "big")) % (1 << 128)
                    lines += 1
    return {"lines": lines, "sum128": f"{total:032x}"}


def _preview_index(paths) -> dict:
    """{messageId: (digest, copies)} of preview files."""
    index = {}
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                try:
                    message_id = str(orjson.loads(line)["body"].get("messageId"))
                except (orjson.JSONDecodeError, KeyError, AttributeError):
                    message_id = "<unparsable preview line>"
                digest = hashlib.blake2b(line, digest_size=16).digest()
                previous = index.get(message_id)
                index[message_id] = (digest, 1 if previous is None else previous[1] + 1)
    return index


def _lines_for(paths, wanted: set, limit_chars: int = 1500) -> dict:
    found = {}
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    message_id = str(orjson.loads(line)["body"].get("messageId"))
                except (orjson.JSONDecodeError, KeyError, AttributeError):
                    continue
                if message_id in wanted and message_id not in found:
                    found[message_id] = line.decode("utf-8", "replace").rstrip("\n")[:limit_chars]
    return found


def diff_previews(job_paths, base_paths, examples: int = 5) -> dict:
    """Which messageIds differ between two preview outputs, with a few example lines."""
    job, base = _preview_index(job_paths), _preview_index(base_paths)
    only_job = sorted(set(job) - set(base))
    only_base = sorted(set(base) - set(job))
    changed = sorted(m for m in set(job) & set(base) if job[m] != base[m])
    wanted = set(only_job[:examples] + only_base[:examples] + changed[:examples])
    job_lines, base_lines = _lines_for(job_paths, wanted), _lines_for(base_paths, wanted)
    return {
        "only_in_job": len(only_job), "only_in_baseline": len(only_base), "different_body": len(changed),
        "examples": [{"messageId": m, "job": job_lines.get(m), "baseline": base_lines.get(m)}
                     for m in only_job[:examples] + only_base[:examples] + changed[:examples]],
    }


def arrival_rates(per_second: dict) -> dict:
    """Steady-state arrival rate from the sandbox's {unix second: count}.

    The busy span runs from the first to the last second with arrivals (seconds inside it with
    none count as 0); its first and last seconds are partial and left out of the steady rate.
    """
    counts = {int(second): count for second, count in per_second.items()}
    if not counts:
        return {"busy_seconds": 0, "total": 0, "steady_rate": 0.0, "steady_median": 0.0,
                "steady_min": 0, "max_one_second": 0, "series": []}
    first, last = min(counts), max(counts)
    series = [counts.get(second, 0) for second in range(first, last + 1)]
    inner = series[1:-1] if len(series) > 2 else series
    return {"busy_seconds": len(series), "total": sum(series),
            "steady_seconds": len(inner),
            "steady_rate": round(statistics.fmean(inner), 1),
            "steady_median": statistics.median(inner),
            "steady_min": min(inner),
            "max_one_second": max(series), "series": series}


def _per_decade(before: dict, after: dict, field: str):
    """How much `field` grows per 10x more events, between two sizes: (b/a) ** (1/log10(nb/na))."""
    a, b = before[field], after[field]
    if not a or not b or after["events"] == before["events"]:
        return None
    return round((b / a) ** (1 / math.log10(after["events"] / before["events"])), 2)


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (the lower middle one of an even count).

    >>> median_run([{"wall_seconds": 3}, {"wall_seconds": 1}, {"wall_seconds": 2}])
    {'wall_seconds': 2}
    """
    ordered = sorted(runs, key=lambda run: run["wall_seconds"])
    return ordered[(len(ordered) - 1) // 2]


def _per_extra_event(before: dict, after: dict, key: str):
    if before.get(key) is None or after.get(key) is None:
        return None
    return round((after[key] - before[key]) / (after["events"] - before["events"]), 1)


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def _cpu(run: dict):
    if run.get("cpu_user_seconds") is None:
        return None
    return run["cpu_user_seconds"] + run["cpu_system_seconds"]


def _dataset_info(manifest: dict) -> dict:
    return {key: manifest.get(key) for key in ("events", "files", "seed", "plain", "users", "accounts",
                                                "mean_line_bytes", "uncompressed_bytes", "input",
                                                "generate_seconds")}


def _mem_total_bytes():
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _environment(args) -> dict:
    commit = _git("rev-parse", "HEAD").strip() or None
    # read-only: --no-optional-locks keeps git from refreshing the index
    changed = [line[3:] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()]
    try:
        from importlib.metadata import version
        beam = version("apache-beam")
    except Exception:  # pylint: disable=broad-except
        beam = None
    return {"python": platform.python_version(), "apache_beam": beam, "cpus": os.cpu_count(),
            "mem_total_bytes": _mem_total_bytes(), "platform": platform.platform(),
            "commit": commit, "uncommitted_changes": changed, "argv": sys.argv[1:], "pipeline_args": args.pipeline_args or "",
            "smoke": args.smoke, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _git(*args) -> str:
    try:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _log(message: str):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- tables

def _mb(value) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def _num(value, digits=0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(rows) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).rjust(width) if i else str(cell).ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))) for row in rows)


def print_b1(result: dict):
    job, base = result["job"], result["baseline"]
    ratio = result.get("ratio_job_over_baseline", {})
    rows = [("B1 processing", "events/s", "wall", "peak RSS (tree)", "peak PSS", "max RSS (1 proc)",
             "CPU s", "procs"),
            ("job --preview", _num(job.get("events_per_second")), f"{job['wall_seconds']:.2f} s",
             _mb(job["peak_rss_bytes"]), _mb(job["peak_pss_bytes"]), _mb(job.get("max_rss_bytes")),
             _num(_cpu(job), 1), job["peak_processes"]),
            ("baseline", _num(base.get("events_per_second")), f"{base['wall_seconds']:.2f} s",
             _mb(base["peak_rss_bytes"]), _mb(base["peak_pss_bytes"]), _mb(base.get("max_rss_bytes")),
             _num(_cpu(base), 1), base["peak_processes"]),
            ("job/baseline", _num(ratio.get("events_per_second"), 3), _num(ratio.get("wall_seconds"), 2) + "x",
             _num(ratio.get("peak_rss_bytes"), 2) + "x", "", _num(ratio.get("max_rss_bytes"), 2) + "x",
             _num(ratio.get("cpu_seconds"), 2) + "x", "")]
    print(_table(rows))
    checks = result.get("checks", {})
    for name in ("requests", "summary", "generator_expectation"):
        if name in checks:
            verdict = ("skipped (the generator plans no filters)" if checks[name].get("skipped")
                       else "same" if checks[name]["match"] else "MISMATCH")
            print(f"  {name:<22} {verdict}")
    print(f"  events: {result['events']:,} in {result['files']} files")
    if result.get("destination_filters"):
        print(f"  --destination_filters {result['destination_filters']} (job and baseline)")
    if result.get("rounds", 1) > 1:
        walls = result["wall_seconds_per_round"]
        print(f"  {result['rounds']} rounds, the median shown; wall per round: job "
              f"{', '.join(f'{w:.2f}' for w in walls['job'])} s, baseline "
              f"{', '.join(f'{w:.2f}' for w in walls['baseline'])} s")
        peaks = result.get("max_rss_bytes_per_round", {}).get("job", [])
        print(f"  job max RSS per round: {', '.join(_mb(peak) for peak in peaks)}")
    report = result.get("report")
    if report:
        print(f"  job --preview --report: {report['wall_seconds']:.2f} s (per round "
              f"{', '.join(f'{w:.2f}' for w in report['wall_seconds_per_round'])} s), "
              f"{_num(report['ratio_over_job'], 3)}x the job's time (target <= {report['target']}); "
              f"CPU (median of rounds) {_num(report['cpu_ratio_over_job'], 3)}x the job's; "
              f"report funnel = summary: {all(c and c['match'] for c in report['checks'])}")


def print_b2(result: dict):
    rows = [("B2 delivery", "cap req/s", "ideal", "steady req/s", "achieved/ideal", "max in 1 s",
             "delivered", "busy s", "max in flight")]
    for label, run in result["runs"].items():
        summary = run["job"].get("summary") or {}
        rows.append((label, _num(run["max_requests_per_second"]), _num(run["ideal_rate"]),
                     _num(run["arrivals"]["steady_rate"], 1), _num(run["achieved_over_ideal"], 3),
                     run["arrivals"]["max_one_second"], summary.get("delivered", "-"),
                     run["arrivals"]["busy_seconds"], run["sandbox"].get("max_in_flight", "-")))
    print(_table(rows))
    print(f"  latency {result['latency_ms']} ms, --max_concurrent_requests {result['max_concurrent_requests']}; "
          f"ideal = C / latency for 'concurrency', R for 'rate_limited'")
    for label, run in result["runs"].items():
        bad = [name for name, ok in run.get("checks", {}).items() if not ok]
        if "cap_held" in run:
            bad += [] if run["cap_held"] else ["cap_held"]
        size = run.get("checkpoint")
        print(f"  {label}: job wall {run['job']['wall_seconds']:.1f} s, checks "
              f"{'ok' if not bad else 'FAILED: ' + ', '.join(bad)}"
              + (f", checkpoint {size['bytes']} bytes ({_num(size['bytes_per_event'], 1)} per event)"
                 if size else ""))


def print_b3(result: dict):
    rows = [("B3 scale", "events/s", "wall", "peak RSS (tree)", "peak PSS", "max RSS (1 proc)")]
    for point in result["points"]:
        rows.append((f"{point['events']:,} events", _num(point["events_per_second"]),
                     f"{point['wall_seconds']:.2f} s", _mb(point["peak_rss_bytes"]), _mb(point["peak_pss_bytes"]),
                     _mb(point.get("max_rss_bytes"))))
    print(_table(rows))
    for step in result["growth"]:
        print(f"  {step['from']:,} -> {step['to']:,}: per 10x events, wall x{_num(step['wall_per_10x'], 2)}, "
              f"peak RSS x{_num(step['peak_rss_per_10x'], 2)} "
              f"({_num(step['rss_bytes_per_extra_event'])} bytes of RSS per extra event; "
              f"{_num(step.get('max_rss_bytes_per_extra_event'))} by the exact high-water mark)")


# ---------------------------------------------------------------------- CLI

def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See bench/README.md.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, all benchmarks, < 60 s (CI)")
    parser.add_argument("--only", default="B1,B2,B3", help="comma-separated subset of B1,B2,B3")
    parser.add_argument("--events", type=int, default=None, help="B1 events (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="B1 rounds (job, then baseline, each round); the median round of each is reported")
    parser.add_argument("--report", action="store_true",
                        help="B1: each round also runs the job with --report (what the report costs)")
    parser.add_argument("--sizes", default=None, help="B3 sizes (default 100000,1000000,3000000)")
    parser.add_argument("--destination_filters", default=None, metavar="FILE",
                        help="B1: the job and the baseline both apply these filters "
                             "(e.g. bench/ten_filters.json); results in B1-processing-filters.json")
    parser.add_argument("--pipeline_args", default="",
                        help='extra job flags, e.g. "--direct_num_workers 2 --direct_running_mode multi_processing"')
    parser.add_argument("--concurrency", type=int, default=16, help="B2 --max_concurrent_requests C")
    parser.add_argument("--rate", type=float, default=100.0, help="B2 --max_requests_per_second R")
    parser.add_argument("--latency_ms", type=float, default=50.0, help="B2 sandbox latency")
    parser.add_argument("--checkpoint", action="store_true",
                        help="B2: the job runs with --checkpoint (its cost; the checkpoint's size per event)")
    parser.add_argument("--b2_seconds", type=float, default=None,
                        help="B2: size each run's input to last about this long at the ideal rate (default 25)")
    parser.add_argument("--files", type=int, default=None, help="input files per dataset (default N/50000, >= 4)")
    parser.add_argument("--plain", action="store_true", help="uncompressed .jsonl input")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--results_dir", default=str(RESULTS_DIR))
    parser.add_argument("--data_dir", default=None, help="generated inputs (default RESULTS_DIR/data, reused)")
    parser.add_argument("--regenerate", action="store_true", help="regenerate inputs even if cached")
    parser.add_argument("--keep_outputs", action="store_true", help="keep preview/dead-letter outputs")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measured run")
    parser.add_argument("--max_rss_gb", type=float, default=None,
                        help="kill a run whose process tree passes this RSS (default 85%% of RAM)")
    args = parser.parse_args(argv)
    args.only = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in NAMES]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {unknown}; choose from {sorted(NAMES)}")
    if args.smoke:
        args.events = args.events or 2000
        args.sizes = args.sizes or "1000,4000"
        args.b2_seconds = args.b2_seconds or 2.0
        args.timeout = min(args.timeout, 120.0)
    args.events = args.events or 1_000_000
    args.sizes = [int(size) for size in (args.sizes or "100000,1000000,3000000").split(",") if size.strip()]
    args.b2_seconds = args.b2_seconds or 25.0
    if args.events < 1 or any(size < 1 for size in args.sizes):
        parser.error("--events and --sizes must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    bench.results_dir.mkdir(parents=True, exist_ok=True)
    runners = {"B1": (bench.b1, print_b1), "B2": (bench.b2, print_b2), "B3": (bench.b3, print_b3)}
    written = []
    for name in ("B1", "B2", "B3"):
        if name not in args.only:
            continue
        failures_before = len(bench.failures)
        started = time.monotonic()
        run, show = runners[name]
        result = run()
        result["benchmark"] = name
        result["seconds"] = round(time.monotonic() - started, 1)
        result["failures"] = bench.failures[failures_before:]
        result["environment"] = _environment(args)
        suffix = "-filters" if name == "B1" and args.destination_filters else ""
        path = bench.results_dir / (("smoke-" if args.smoke else "") + NAMES[name] + suffix + ".json")
        path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        written.append(path)
        print()
        show(result)
        print(f"  -> {path} ({result['seconds']} s)")
    if not args.keep_outputs:
        shutil.rmtree(bench.work_dir, ignore_errors=True)
    if bench.failures:
        print(f"\n{len(bench.failures)} FAILED CHECK(S):", file=sys.stderr)
        for failure in bench.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
