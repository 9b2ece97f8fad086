"""The destinations: one module each, behind transforms.delivery.destinations.base.Destination.

    >>> get("gainsight-px").url(get("gainsight-px").base_urls["eu"])
    'https://segment-esp-eu.aptrinsic.com/rte/segmentio/v1/push'

Adding one is a new module and a line here; nothing else names a destination.
"""
from transforms.delivery.destinations import gainsight_api, gainsight_cs, gainsight_px
from transforms.delivery.destinations.base import Destination

DESTINATIONS = {destination.name: destination
                for destination in (gainsight_cs.DESTINATION, gainsight_px.DESTINATION,
                                    gainsight_api.DESTINATION)}
DEFAULT = gainsight_cs.DESTINATION.name


def get(name: str, settings=None) -> Destination:
    """The destination called `name` (configured by its own flags' `settings`, when it has
    some); KeyError when there is none."""
    return DESTINATIONS[name].configured(settings)
