"""--from / --to: replay only the events of a time range [from, to).

>>> window = Window.parse("2024-11-01T00:00:00Z", "2024-11-02")
>>> passes, counted = window_check(window), []
>>> [passes({"timestamp": at}, counted.append) for at in ("2024-11-01T23:59:59.999Z", "2024-11-02T00:00:00Z")]
[True, False]
>>> passes({"type": "track"}, counted.append), counted
(False, ['out_of_window', 'out_of_window'])

An event's time is its `timestamp`, else (an event written by hand, an old export) the first of
`originalTimestamp`, `receivedAt`, `sentAt` that parses (transforms.common.timestamps). An event
with none of them cannot be shown to be inside the range: with --from or --to it is counted
out_of_window, like the events outside.

Segment's archive (`segment-logs/<source>/<day in ms>/...`) files the events by the day Segment
received them; an event's `timestamp` is never later than its receipt, but can be earlier (a
phone's queue sent hours later). A day folder is read when its day overlaps
[from, to + LATE_ARRIVAL_DAYS): the folders before are not read at all, and one day of folders
after `to` is read for the events received late.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import apache_beam as beam

from transforms.common import counters
from transforms.common.timestamps import event_instant

LATE_ARRIVAL_DAYS = 1
DAY_SECONDS = 86400
_DAY_FOLDER = re.compile(r"(?:^|/)segment-logs/[^/]+/([0-9]{10,14})/")


class WindowError(ValueError):
    """A --from / --to that is not an ISO-8601 instant, or an empty range."""


def parse_instant(text: str) -> float:
    """Seconds since the epoch of an ISO-8601 instant; a date alone is its midnight UTC, and a
    time without an offset is UTC.

    >>> parse_instant("2024-11-01"), parse_instant("2024-11-01T02:00:00+02:00")
    (1730419200.0, 1730419200.0)
    """
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WindowError(f"not an ISO-8601 date or instant: {text!r} "
                          "(e.g. 2024-11-01 or 2024-11-01T09:30:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True)
class Window:
    """[start, end) in seconds since the epoch; either side may be open (None)."""
    start: float | None = None
    end: float | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> "Window":
        window = cls(None if not start else parse_instant(start), None if not end else parse_instant(end))
        if window.start is not None and window.end is not None and window.end <= window.start:
            raise WindowError("--to must be later than --from (the range is [from, to))")
        return window

    def contains(self, instant: float | None) -> bool:
        if instant is None:
            return False
        return (self.start is None or instant >= self.start) and (self.end is None or instant < self.end)

    def reads_folder(self, path: str) -> bool:
        """False for a file of Segment's archive layout whose day folder lies wholly outside
        [start, end + LATE_ARRIVAL_DAYS); True for every other path.

        >>> w = Window.parse("2024-11-02", "2024-11-03")
        >>> days = (1730419200000, 1730505600000, 1730592000000, 1730678400000)   # Nov 1 to 4
        >>> [w.reads_folder(f"b/segment-logs/S/{day}/f.gz") for day in days]
        [False, True, True, False]
        >>> w.reads_folder("exports/events.jsonl")
        True
        """
        match = _DAY_FOLDER.search(path)
        if match is None:
            return True
        digits = match.group(1)
        day_start = int(digits) / (1000 if len(digits) > 11 else 1)
        if self.start is not None and day_start + DAY_SECONDS <= self.start:
            return False
        if self.end is not None and day_start >= self.end + LATE_ARRIVAL_DAYS * DAY_SECONDS:
            return False
        return True


def window_check(window: Window):
    """-> passes(event, count): True for an event whose time is in the window; another is counted
    out_of_window and False. The one rule KeepInWindowFn and the batch fusion
    (transforms.stages.prepare) apply."""
    contains = window.contains

    def passes(event: dict, count) -> bool:
        if contains(event_instant(event)):
            return True
        count(counters.OUT_OF_WINDOW)
        return False
    return passes


class KeepInWindowFn(counters.CountingDoFn):
    def __init__(self, window: Window):
        self._window = window

    def setup(self):
        self._passes = window_check(self._window)

    def process(self, sourced):
        if self._passes(sourced[1], self.count):
            yield sourced


class KeepInWindow(beam.PTransform):
    """(origin, event) pairs -> those whose time is in `window` (the others counted)."""

    def __init__(self, window: Window):
        super().__init__()
        self._window = window

    def expand(self, events):
        return events | beam.ParDo(KeepInWindowFn(self._window))
