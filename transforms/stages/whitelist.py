"""The "Whitelist Track Events" setting: empty sends every track event, else only listed names,
matched as Segment matched them, ignoring case and separators.

>>> allowed = parse_whitelist("Order Completed, Signed Up")
>>> [is_whitelisted(name, allowed) for name in ("order_completed", "ORDER-COMPLETED", "Order")]
[True, True, False]
"""
import functools
import re

import apache_beam as beam

from transforms.common import counters, tags

_SEPARATORS = re.compile(r"[\s_.\-]+")


@functools.lru_cache(maxsize=4096)  # a source sends a few dozen names, millions of times
def normalise_event_name(name: str) -> str:
    """'Order-Completed ' -> 'order completed': lower case, runs of space/_/-/. as one space."""
    return _SEPARATORS.sub(" ", name).strip().lower()


def parse_whitelist(text: str | None) -> frozenset:
    """'A, B,,C' -> normalised names; empty or None -> empty set (send every track event)."""
    if not text:
        return frozenset()
    return frozenset(filter(None, (normalise_event_name(name) for name in text.split(","))))


def is_whitelisted(event_name: str, allowed: frozenset) -> bool:
    return not allowed or normalise_event_name(event_name) in allowed


def whitelist_check(allowed: frozenset):
    """-> passes(event, count): identify/group (any non-track) and whitelisted tracks pass;
    another track is counted (filtered) and False. The one rule KeepWhitelistedFn and the batch
    fusion (transforms.stages.prepare) apply."""
    def passes(event: dict, count) -> bool:
        if event["type"] != tags.TRACK or is_whitelisted(event["event"], allowed):
            return True
        count(counters.FILTERED)
        return False
    return passes


class KeepWhitelistedFn(counters.CountingDoFn):
    def __init__(self, allowed: frozenset):
        self._allowed = allowed

    def setup(self):
        self._passes = whitelist_check(self._allowed)

    def process(self, sourced):
        if self._passes(sourced[1], self.count):
            yield sourced


class FilterWhitelist(beam.PTransform):
    """(origin, sendable event) pairs -> the same, less the track events the whitelist does not
    name (none when it is empty), which are counted; identify and group calls pass."""

    def __init__(self, whitelist: str | None):
        super().__init__()
        self._allowed = parse_whitelist(whitelist)

    def expand(self, tracks):
        return tracks | beam.ParDo(KeepWhitelistedFn(self._allowed))
