"""The run's summary: the job's counters as a dict, a check that they add up, and a table.

    {"read": 320, "invalid": 8, "duplicates": 6, ..., "by_type": {"track": 150, ...},
     "balanced": true}
"""
from apache_beam.metrics.metric import MetricsFilter

from transforms.common import counters

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


def build_summary(values: dict) -> dict:
    """Counter values -> the summary dict (every key present, zero when never counted).

    >>> build_summary({"read": 3, "invalid": 1, "delivered": 2, "by_type.track": 2})["balanced"]
    True
    """
    summary = {name: values.get(name, 0) for name in SCALARS}
    summary["by_type"] = {kind: values.get(counters.by_type(kind), 0) for kind in counters.SENT_TYPES}
    summary["unsupported_by_type"] = {
        kind: values.get(counters.unsupported_type(kind), 0) for kind in counters.UNSUPPORTED_TYPES}
    summary["balanced"] = summary[counters.READ] == sum(summary[name] for name in counters.OUTCOMES)
    return summary


def format_table(summary: dict) -> str:
    """A two-column text table of the summary, outcomes first."""
    rows = [(name, summary[name]) for name in SCALARS]
    rows += [(f"by_type.{kind}", n) for kind, n in summary["by_type"].items()]
    rows += [(f"unsupported.{kind}", n) for kind, n in summary["unsupported_by_type"].items()]
    rows.append(("balanced", "yes" if summary["balanced"] else "NO"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>10}" for name, value in rows)
