"""Everything the report shows, as one plain dict built from the run's summary and what the run
recorded (transforms.common.report_tally, the dead-letter files):

    {"run": {"destination": "gainsight", "endpoint": "https://...", "flags": ["--input", ...],
             "started": 1767000000.0, "ended": 1767000090.0, "rate_cap": 50.0, "versions": {...}},
     "funnel": [{"name": "read", "count": 320, "share": 1.0, "kind": "read"},
                {"name": "invalid", "count": 8, "share": 0.025, "kind": "left"}, ...,
                {"name": "delivered", "count": 290, "share": 0.906, "kind": "end"}, ...],
     "answers": {"2xx": 290, "5xx": 4}, "latency": {"p50": 4.1, ..., "histogram": {...}},
     "timeline": {"bucket_seconds": 1, "start": 1767000001, "rows": [[0, 40, 2, 0], ...],
                  "outages": [[12.0, 30.5]]} or None,
     "dead_letters": [{"stage": "deliver", "reason": "HTTP 400: ...", "count": 3,
                       "samples": ["{...}"]}],
     "by_type": {...}, "event_names": [["Order Completed", 120], ...] or None,
     "attribution": {"with_account": 280, "stitched": 12, "unmapped": 10}, "summary": {...}}
"""
import json
import re

from transforms.common import counters
from transforms.delivery.http_delivery import redact

# Outcomes where an event's path ends at the sink; every other outcome is a way it left before.
END_OUTCOMES = (counters.DELIVERED, counters.DEAD_LETTERED, counters.UNSENT, counters.PREVIEWED)
MAX_TIMELINE_BARS = 300
NICE_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
TOP_EVENT_NAMES = 10
MAX_REASONS = 30
SAMPLES_PER_REASON = 3
SAMPLE_CHARS = 400
OTHER_REASONS = "(other reasons)"


def funnel(summary: dict) -> list[dict]:
    """read, then each outcome (counters.OUTCOMES, so one added later shows by itself) with its
    count and share of read: "left" ones before the sink, "end" ones at it.

    >>> [(row["name"], row["count"], row["kind"]) for row in funnel(
    ...     {"read": 4, "invalid": 1, "delivered": 3})][:2]
    [('read', 4, 'read'), ('invalid', 1, 'left')]
    >>> funnel({"read": 4, "invalid": 1, "delivered": 3})[-4]["share"]
    0.75
    """
    read = summary.get(counters.READ, 0)
    rows = [{"name": counters.READ, "count": read, "share": 1.0 if read else 0.0, "kind": "read"}]
    left = [name for name in counters.OUTCOMES if name not in END_OUTCOMES]
    ends = [name for name in counters.OUTCOMES if name in END_OUTCOMES]
    for kind, names in (("left", left), ("end", ends)):
        for name in names:
            count = summary.get(name, 0)
            rows.append({"name": name, "count": count, "share": count / read if read else 0.0,
                         "kind": kind})
    return rows


def bucket_seconds(span_seconds: float) -> int:
    """The timeline's bar width: the smallest NICE_BUCKETS step giving at most MAX_TIMELINE_BARS.

    >>> bucket_seconds(90), bucket_seconds(3600), bucket_seconds(56 * 3600)
    (1, 15, 900)
    """
    for step in NICE_BUCKETS:
        if span_seconds / step <= MAX_TIMELINE_BARS:
            return step
    return NICE_BUCKETS[-1]


def timeline(per_second: dict, outages: list, started: float | None = None) -> dict | None:
    """Per-second answers -> bars of bucket_seconds: [offset s, accepted, retried, failed],
    offsets from the first second (or the run's start); outages as [from s, to s]; None when
    nothing was recorded.

    >>> timeline({"100": {"accepted": 2}, "102": {"retried": 1}}, [[101.5, 102.2]], started=100)
    {'bucket_seconds': 1, 'start': 100, 'rows': [[0, 2, 0, 0], [1, 0, 0, 0], [2, 0, 1, 0]], 'outages': [[1.5, 2.2]]}
    """
    if not per_second:
        return None
    seconds = sorted(int(second) for second in per_second)
    start = int(started) if started is not None and started <= seconds[0] else seconds[0]
    step = bucket_seconds(seconds[-1] - start + 1)
    bars = {}
    for second, row in per_second.items():
        offset = (int(second) - start) // step * step
        bar = bars.setdefault(offset, [offset, 0, 0, 0])
        for index, name in enumerate(("accepted", "retried", "failed"), start=1):
            bar[index] += row.get(name, 0)
    rows = [bars.get(offset, [offset, 0, 0, 0])
            for offset in range(0, (seconds[-1] - start) // step * step + 1, step)]
    windows = [[round(max(a - start, 0), 1), round(b - start, 1)] for a, b in merge_windows(outages)]
    return {"bucket_seconds": step, "start": start, "rows": rows, "outages": windows}


def merge_windows(windows) -> list:
    """Overlapping [start, end] windows (one per shard's breaker) merged.

    >>> merge_windows([[5, 9], [1, 3], [2, 4], [8, 12]])
    [[1, 4], [5, 12]]
    """
    merged = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


_NUMBERS = ((re.compile(r"line \d+ column \d+ \(char \d+\)"), "line N column N (char N)"),
            (re.compile(r"after \d+ attempts"), "after N attempts"),
            (re.compile(r"at position \d+"), "at position N"))


def reason_group(reason: str) -> str:
    """A dead letter's reason with the numbers that differ per event made N, cut to 200 chars.

    >>> reason_group("gave up after 3 attempts: HTTP 503")
    'gave up after N attempts: HTTP 503'
    """
    for pattern, replacement in _NUMBERS:
        reason = pattern.sub(replacement, reason)
    return reason[:200]


def dead_letter_groups(lines, secrets=()) -> list[dict]:
    """Dead-letter JSONL lines -> [{"stage", "reason", "count", "samples"}], most first; samples
    are the first SAMPLES_PER_REASON records, cut to SAMPLE_CHARS; in reasons and samples every
    form of the key in `secrets` is replaced by ***. Past MAX_REASONS, the rest count as OTHER_REASONS.

    >>> dead_letter_groups(['{"stage":"parse","reason":"no type"}', '{"stage":"parse","reason":"no type","raw":"K1"}'], ("K1",))
    [{'stage': 'parse', 'reason': 'no type', 'count': 2, 'samples': ['{"stage":"parse","reason":"no type"}', '{"stage":"parse","reason":"no type","raw":"***"}']}]
    """
    groups: dict = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
            key = (str(record.get("stage", "?")),
                   reason_group(redact(str(record.get("reason", "")), secrets)))
        except (ValueError, AttributeError):
            key = ("?", "(unreadable dead-letter line)")
        if key not in groups and len(groups) >= MAX_REASONS:
            key = ("", OTHER_REASONS)
        group = groups.setdefault(key, {"stage": key[0], "reason": key[1], "count": 0, "samples": []})
        group["count"] += 1
        if len(group["samples"]) < SAMPLES_PER_REASON:
            group["samples"].append(_cut(redact(line, secrets)))  # redacted whole: a cut may split a key
    return sorted(groups.values(), key=lambda group: -group["count"])


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + " …"


def report_data(summary: dict, run: dict, tally: dict | None, dead_letters: list,
                distribution: dict | None = None) -> dict:
    """The page's data (module docstring). `tally`: transforms.common.report_tally's merged
    snapshot, None when the run kept none (Dataflow); `distribution`: the latency Distribution
    {"count", "sum", "min", "max"} (ms) when the runner gave it."""
    by_type = dict(summary.get("by_type", {}))
    handed = sum(by_type.values())
    unmapped = summary.get(counters.UNMAPPED, 0)
    names = None
    if tally is not None:
        names = sorted(tally.get("event_names", {}).items(), key=lambda item: (-item[1], item[0]))
        names = [list(item) for item in names[:TOP_EVENT_NAMES]]
    latency = dict(summary.get("latency_ms", {}))
    if distribution and distribution.get("count"):
        latency.update(mean=round(distribution["sum"] / distribution["count"], 1),
                       min=distribution["min"], max=distribution["max"])
    return {
        "run": run,
        "funnel": funnel(summary),
        "balanced": summary.get("balanced", False),
        "answers": dict(summary.get("answers", {})),
        "latency": latency,
        "requests": summary.get(counters.REQUESTS, 0),
        "retries": summary.get(counters.RETRIES, 0),
        "outages": summary.get(counters.OUTAGES, 0),
        "outage_seconds": summary.get(counters.OUTAGE_SECONDS, 0),
        "timeline": None if tally is None else timeline(
            tally.get("per_second", {}), tally.get("outages", []), run.get("started")),
        "dead_letters": dead_letters,
        "by_type": by_type,
        "event_names": names,
        "attribution": {"with_account": max(handed - unmapped, 0),
                        "stitched": summary.get(counters.STITCHED, 0), "unmapped": unmapped},
        "summary": summary,
    }
