"""Honour the event's `integrations` object, as Segment does for a destination.

A destination runs unless one of its names is false, or `All` is false and none of its names is
enabled (true, or an object of destination options). Names are case-sensitive.

>>> enabled_for({"integrations": {"All": False, "Gainsight": True}}, ("Gainsight",))
True
>>> enabled_for({"integrations": {"Gainsight": False}}, ("Gainsight",))
False
>>> enabled_for({"integrations": {"Gainsight": False}}, ("Gainsight PX Cloud (Actions)",))
True
"""
import apache_beam as beam

from transforms.common import counters


def enabled_for(event: dict, names) -> bool:
    """False when integrations.<a name> is false, or integrations.All is false and no name is
    enabled; True otherwise (no integrations at all included)."""
    integrations = event.get("integrations")
    if not integrations:
        return True
    settings = [integrations.get(name) for name in names]
    if any(setting is False for setting in settings):
        return False
    if any(setting is True or isinstance(setting, dict) for setting in settings):
        return True
    return integrations.get("All") is not False


def consent_check(names):
    """-> passes(event, count): enabled_for(event, names), else count(skipped_by_integrations)
    and False. The one rule KeepConsentedFn and the batch fusion (transforms.stages.prepare) apply."""
    names = tuple(names)

    def passes(event: dict, count) -> bool:
        if enabled_for(event, names):
            return True
        count(counters.SKIPPED_BY_INTEGRATIONS)
        return False
    return passes


class KeepConsentedFn(counters.CountingDoFn):
    def __init__(self, names):
        self._names = tuple(names)

    def setup(self):
        self._passes = consent_check(self._names)

    def process(self, sourced):
        if self._passes(sourced[1], self.count):
            yield sourced


class FilterConsent(beam.PTransform):
    """(origin, event) pairs -> those whose event's `integrations` let the destination, known
    by `names`, receive it (others counted)."""

    def __init__(self, names):
        super().__init__()
        self._names = tuple(names)

    def expand(self, events):
        return events | beam.ParDo(KeepConsentedFn(self._names))
