"""Gainsight PX (`--destination gainsight-px`), as Segment's "Gainsight PX Cloud (Actions)" sends.

    POST https://segment-esp.aptrinsic.com/rte/segmentio/v1/push      (us; eu, us2 below)
    Authorization: Basic base64("AP-XXXXXXXXXXXX-2:")                  key as user, no password
    {"type": "page", ...}                                              one Segment event per request

Identify, group, track and page calls (Segment's presets). The key is the PX product key,
"AP-..." (PX: Administration > Products). Segment checks a key by posting `[]`: 400 means the
key is valid, 401 that it is not.
"""
import base64
import re

from transforms.delivery.destinations.base import Credential, Destination, KeyCheck
from transforms.delivery.secrets import is_access_key_shaped

PATH = "/rte/segmentio/v1/push"
_WHITESPACE = re.compile(r"\s")


def key_problem(key: str) -> str | None:
    """None for an "AP-..." key; else why not (never quoting the key)."""
    if is_access_key_shaped(key):
        return ("looks like a Gainsight CS access key (a UUID), not a PX product key; PX keys "
                "start with AP- (PX: Administration > Products), or use --destination gainsight")
    if not key.startswith("AP-"):
        return "must start with AP- (the PX product key: PX Administration > Products)"
    if _WHITESPACE.search(key):
        return "must not contain whitespace"
    if len(key) == 3:
        return "is only the AP- prefix"
    return None


def key_headers(key: str) -> dict:
    """HTTP Basic auth with the key as the user name and an empty password."""
    token = base64.b64encode(f"{key}:".encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}


DESTINATION = Destination(
    name="gainsight-px",
    title="Gainsight PX",
    call_types=("track", "identify", "group", "page"),
    consent_names=("Gainsight PX Cloud (Actions)", "Actions Gainsight PX Cloud"),
    credential=Credential(flag="--px_api_key", env="GAINSIGHT_PX_API_KEY",
                          secret_flag="--px_api_key_secret", problem=key_problem,
                          headers=key_headers,
                          where_to_find="Gainsight PX: Administration > Products"),
    path=PATH,
    base_urls={"us": "https://segment-esp.aptrinsic.com",
               "eu": "https://segment-esp-eu.aptrinsic.com",
               "us2": "https://segment-esp-us2.aptrinsic.com"},
    key_check=KeyCheck(body=b"[]", valid_statuses=(400,), rejected_statuses=(401, 403)),
)
