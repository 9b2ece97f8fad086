"""What each answer of the destination was and how long it took: the sink's answer kinds,
latency histogram and per-second timeline.

    log = AnswerLog()
    log.record(answer_kind(200), 0.012)    # RequestSender, once per attempt on the wire, any thread
    log.flush(count)                       # the delivering DoFn's thread, at each collect:
        # counters answers.2xx, latency_ms.le_20, the Distribution request_latency_ms
        # (all on Dataflow's job page too), and on a local run the per-second timeline
        # (transforms.common.report_tally: accepted, retried, failed)

    >>> answer_kind(204), answer_kind(404), answer_kind(429), answer_kind(502)
    ('2xx', '404', '429', '5xx')
    >>> import requests
    >>> answer_kind(None, requests.exceptions.ReadTimeout()), answer_kind(None, requests.exceptions.ConnectionError())
    ('timeout', 'connection_error')
    >>> timeline_category("2xx"), timeline_category("5xx"), timeline_category("400")
    ('accepted', 'retried', 'failed')
    >>> latency_bucket(0.0123)   # seconds -> the histogram counter
    'latency_ms.le_15'
"""
import bisect
import threading
import time

from apache_beam.metrics import Metrics

from transforms.common import counters, report_tally

ANSWERS_PREFIX = "answers."
LATENCY_PREFIX = "latency_ms."
LATENCY_DISTRIBUTION = "request_latency_ms"
# Upper bounds (ms) of the latency histogram's buckets; a last bucket, le_inf, takes the rest.
LATENCY_BOUNDS_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000,
                     1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000)
_BUCKETS = tuple(f"{LATENCY_PREFIX}le_{bound}" for bound in LATENCY_BOUNDS_MS) + (
    f"{LATENCY_PREFIX}le_inf",)
RETRIED_KINDS = ("429", "5xx", "timeout", "connection_error")


def answer_kind(status: int | None, error: Exception | None = None) -> str:
    """'2xx', '5xx', the status itself for anything else ('400', '429', ...), or 'timeout' /
    'connection_error' when no answer came (`error`, a requests exception)."""
    if status is None:
        return "timeout" if type(error).__name__ == "ReadTimeout" else "connection_error"
    if 200 <= status < 300:
        return "2xx"
    if 500 <= status < 600:
        return "5xx"
    return str(status)


def timeline_category(kind: str) -> str:
    """accepted (2xx), retried (429, 5xx, timeout, connection error) or failed (anything else)."""
    if kind == "2xx":
        return report_tally.ACCEPTED
    return report_tally.RETRIED if kind in RETRIED_KINDS else report_tally.FAILED


def latency_bucket(seconds: float) -> str:
    """The histogram counter of a latency: latency_ms.le_<smallest bound >= it>."""
    return _BUCKETS[bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000.0)]


def bucket_bound(name: str) -> float:
    """'latency_ms.le_15' -> 15.0; 'latency_ms.le_inf' -> inf."""
    return float(name.rsplit("le_", 1)[1])


def answers_of(values: dict) -> dict:
    """{answer kind: attempts} from counter values.

    >>> answers_of({"answers.2xx": 5, "answers.429": 1, "read": 9})
    {'2xx': 5, '429': 1}
    """
    return {name[len(ANSWERS_PREFIX):]: value for name, value in sorted(values.items())
            if name.startswith(ANSWERS_PREFIX) and value}


def latency_of(values: dict) -> dict:
    """The latency histogram from counter values, and its median, p95 and p99 (ms, estimated
    within the bucket, None without requests; a share in the last bucket reads as its floor).

    >>> summary = latency_of({"latency_ms.le_10": 50, "latency_ms.le_15": 48, "latency_ms.le_1000": 2})
    >>> summary["requests"], summary["p50"], summary["p95"], summary["p99"]
    (100, 10.0, 14.7, 850.0)
    >>> summary["histogram"]["15"]
    48
    """
    histogram = {name.rsplit("le_", 1)[1]: values.get(name, 0) for name in _BUCKETS}
    total = sum(histogram.values())
    result = {"requests": total, "histogram": histogram}
    for label, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        result[label] = _percentile(histogram, total, share)
    return result


def _percentile(histogram: dict, total: int, share: float) -> float | None:
    if not total:
        return None
    rank, seen, low = share * total, 0, 0.0
    for label, count in histogram.items():
        high = float(label)
        if count and seen + count >= rank:
            if high == float("inf"):
                return low
            return round(low + (high - low) * (rank - seen) / count, 1)
        seen += count
        low = high
    return low


class AnswerLog:
    """Answers recorded from any thread (record), turned into counts in the DoFn's own thread
    (flush): Beam's metrics are only kept there."""

    def __init__(self, wall_clock=time.time):
        self._lock = threading.Lock()
        self._answers = []
        self._wall = wall_clock
        self._latency = Metrics.distribution(counters.NAMESPACE, LATENCY_DISTRIBUTION)

    def record(self, kind: str, seconds: float) -> None:
        """One attempt's answer kind (answer_kind) and the seconds it took on the wire."""
        entry = (kind, seconds, int(self._wall()))
        with self._lock:
            self._answers.append(entry)

    def flush(self, count) -> None:
        """Counts what was recorded since the last flush with `count(name, n)` (CountingDoFn's),
        the latencies into the Distribution, and the timeline into report_tally."""
        with self._lock:
            answers, self._answers = self._answers, []
        for kind, seconds, second in answers:
            count(ANSWERS_PREFIX + kind)
            count(latency_bucket(seconds))
            self._latency.update(int(round(seconds * 1000)))
            report_tally.add_answer(second, timeline_category(kind))
