"""Honour the event's `integrations` object, as Segment does for its Gainsight destination.

>>> gainsight_enabled({"integrations": {"All": False, "Gainsight": True}})
True
>>> gainsight_enabled({"integrations": {"Gainsight": False}})
False
"""
import apache_beam as beam

from transforms import counters

DESTINATION = "Gainsight"  # case-sensitive, as in Segment


def gainsight_enabled(event: dict) -> bool:
    """False when integrations.Gainsight is false, or integrations.All is false and
    integrations.Gainsight is not enabled (true, or an object of destination options)."""
    integrations = event.get("integrations")
    if not integrations:
        return True
    setting = integrations.get(DESTINATION)
    if setting is False:
        return False
    if setting is True or isinstance(setting, dict):
        return True
    return integrations.get("All") is not False


class KeepConsentedFn(counters.CountingDoFn):
    def process(self, sourced):
        if gainsight_enabled(sourced[1]):
            yield sourced
        else:
            self.count(counters.SKIPPED_BY_INTEGRATIONS)


class FilterConsent(beam.PTransform):
    """(origin, event) pairs -> those whose event's `integrations` let Gainsight receive it
    (others counted)."""

    def expand(self, events):
        return events | beam.ParDo(KeepConsentedFn())
