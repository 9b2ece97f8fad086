"""Gainsight CS's Segment connector (the default destination, `--destination gainsight`).

    POST https://event.gainsight.com/clickstream/segmentio/event
    accessKey: 35a84f9e-7084-47a1-b8a5-593444e9e862
    {"type": "track", ...}                      one Segment message per request

Track, Identify and Group calls; the key is a 36-character UUID (Gainsight: Administration >
Connectors > Segment). Gainsight's page for the connector says it is not available for the
Europe and US 2 regions: use Gainsight PX there.
"""
from transforms.delivery.destinations.base import Credential, Destination
from transforms.delivery.secrets import is_access_key_shaped

PATH = "/clickstream/segmentio/event"


def key_problem(key: str) -> str | None:
    if is_access_key_shaped(key):
        return None
    hint = " (it looks like a Gainsight PX key: use --destination gainsight-px)" if key.startswith("AP-") else ""
    return (f"must be a 36-character UUID (like 35a84f9e-7084-47a1-b8a5-593444e9e862); "
            f"got {len(key)} characters{hint}")


def key_headers(key: str) -> dict:
    return {"accessKey": key}


DESTINATION = Destination(
    name="gainsight",
    title="Gainsight CS",
    call_types=("track", "identify", "group"),
    consent_names=("Gainsight",),
    credential=Credential(flag="--access_key", env="GAINSIGHT_ACCESS_KEY",
                          secret_flag="--access_key_secret", problem=key_problem,
                          headers=key_headers,
                          where_to_find="Gainsight: Administration > Connectors > Segment"),
    path=PATH,
    base_urls={"us": "https://event.gainsight.com"},
)
