"""The run's summary: the job's counters as a dict, a check that they add up, and a table.

    {"read": 320, "invalid": 8, "duplicates": 6, ..., "by_type": {"track": 150, ...},
     "dropped_by_filter_by_title": {"No test users": 3},
     "answers": {"2xx": 150, "429": 2, "5xx": 3, "timeout": 1},
     "latency_ms": {"requests": 156, "p50": 4.2, "p95": 9.8, "p99": 2000.0,
                    "histogram": {"1": 0, "2": 3, ..., "inf": 0}},
     "balanced": true}

`answers` counts every request attempt by its answer (2xx, each other status, 5xx, timeout,
connection_error) and `latency_ms` their time on the wire (transforms.delivery.answers).
"""
from apache_beam.metrics.metric import MetricsFilter

from transforms.common import counters
from transforms.delivery.answers import LATENCY_DISTRIBUTION, answers_of, latency_of

SCALARS = (counters.READ,) + counters.OUTCOMES + (
    counters.UNMAPPED, counters.STITCHED, counters.REQUESTS, counters.RETRIES,
    counters.AMBIGUOUS_RETRIES, counters.KEY_REJECTED, counters.BUDGET_SPENT, counters.OUTAGES, counters.OUTAGE_SECONDS,
    counters.OUTAGE_STOPPED, counters.NOT_LINKED, counters.BLANK_LINES, counters.UNREADABLE_FILES)


def counter_values(result) -> dict:
    """{counter name: value} of the job's namespace from a PipelineResult."""
    query = result.metrics().query(MetricsFilter().with_namespace(counters.NAMESPACE))
    values = {}
    for metric in query["counters"]:
        value = metric.committed if metric.committed is not None else metric.attempted
        values[metric.key.metric.name] = values.get(metric.key.metric.name, 0) + (value or 0)
    return values


def distribution_values(result) -> dict | None:
    """The sink's latency Distribution {"count", "sum", "min", "max"} (ms) from a PipelineResult,
    None when the runner gave none."""
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(counters.NAMESPACE)
                                       .with_name(LATENCY_DISTRIBUTION))
    except Exception:  # pylint: disable=broad-except  (a figure of the report only)
        return None
    total = {"count": 0, "sum": 0, "min": None, "max": None}
    for metric in query.get("distributions", []):
        data = metric.committed if metric.committed is not None else metric.attempted
        if data is None or not data.count:
            continue
        total["count"] += data.count
        total["sum"] += data.sum
        total["min"] = data.min if total["min"] is None else min(total["min"], data.min)
        total["max"] = data.max if total["max"] is None else max(total["max"], data.max)
    return total if total["count"] else None


def build_summary(values: dict) -> dict:
    """Counter values -> the summary dict (every key present, zero when never counted).

    >>> build_summary({"read": 3, "invalid": 1, "delivered": 2, "by_type.track": 2})["balanced"]
    True
    """
    summary = {name: values.get(name, 0) for name in SCALARS}
    summary["by_type"] = {kind: values.get(counters.by_type(kind), 0) for kind in counters.SENT_TYPES}
    summary["unsupported_by_type"] = {
        kind: values.get(counters.unsupported_type(kind), 0) for kind in counters.UNSUPPORTED_TYPES}
    prefix = counters.dropped_by_filter("")
    summary["dropped_by_filter_by_title"] = {
        name[len(prefix):]: value for name, value in sorted(values.items())
        if name.startswith(prefix) and value}
    summary["answers"] = answers_of(values)
    summary["latency_ms"] = latency_of(values)
    summary["balanced"] = summary[counters.READ] == sum(summary[name] for name in counters.OUTCOMES)
    return summary


def format_table(summary: dict) -> str:
    """A two-column text table of the summary, outcomes first."""
    rows = [(name, summary[name]) for name in SCALARS]
    rows += [(f"by_type.{kind}", n) for kind, n in summary["by_type"].items()]
    rows += [(f"unsupported.{kind}", n) for kind, n in summary["unsupported_by_type"].items()]
    rows += [(counters.dropped_by_filter(title), n)
             for title, n in summary.get("dropped_by_filter_by_title", {}).items()]
    rows.append(("balanced", "yes" if summary["balanced"] else "NO"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>10}" for name, value in rows)
