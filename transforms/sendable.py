"""Will an event be sent? Consent, RouteByCallType and Whitelist's rules as one predicate.

Dedupe uses it to shuffle an event that those stages will drop as only the fields they read:
most of a backfill is page/screen calls and tracks off the whitelist, and a shuffle costs by the
byte. The stages still drop and count it downstream, so every count stays as before.

>>> allowed = frozenset({"order completed"})
>>> slim_unless_sent({"type": "page", "messageId": "m1", "name": "Home", "userId": "u"}, allowed)
{'messageId': 'm1', 'type': 'page'}
"""
from transforms import tags
from transforms.consent import gainsight_enabled
from transforms.whitelist import is_whitelisted

# Everything Consent, RouteByCallType and Whitelist read, and the id Dedupe keys on.
FIELDS_THE_FILTERS_READ = ("messageId", "type", "event", "integrations")


def will_be_sent(event: dict, allowed: frozenset) -> bool:
    """True when Consent, RouteByCallType and Whitelist (with `allowed` names) all let it on."""
    call_type = event["type"]
    return (call_type in tags.SENDABLE_TYPES and gainsight_enabled(event)
            and (call_type != tags.TRACK or is_whitelisted(event["event"], allowed)))


def slim_unless_sent(event: dict, allowed: frozenset) -> dict:
    """The event itself when it will be sent, else only FIELDS_THE_FILTERS_READ."""
    if will_be_sent(event, allowed):
        return event
    return {field: event[field] for field in FIELDS_THE_FILTERS_READ if field in event}
