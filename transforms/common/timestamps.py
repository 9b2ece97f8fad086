"""Segment timestamps as instants, so that "…T12:00:00+02:00" sorts before "…T10:30:00Z".

>>> to_instant("2024-11-01T10:00:00Z") == to_instant("2024-11-01T12:00:00.000+02:00")
True
>>> to_instant("yesterday") is None
True
"""
from datetime import datetime, timezone

# Where an event says when it happened, most trusted first (Segment Spec, common fields).
TIME_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")


def to_instant(value) -> float | None:
    """Seconds since the epoch for an ISO-8601 string; None when it is not one.

    A string without an offset is taken as UTC, as Segment's own libraries write UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    if value[-1] in "Zz":  # Python 3.10's fromisoformat does not take "Z"; 3.11 reads it so too
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def event_instant(event: dict) -> float | None:
    """When the event happened: the first of TIME_FIELDS that parses, else None."""
    for field in TIME_FIELDS:
        instant = to_instant(event.get(field))
        if instant is not None:
            return instant
    return None
