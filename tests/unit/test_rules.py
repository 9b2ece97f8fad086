"""Consent (integrations), whitelist matching and call-type routing rules."""
import pytest

from transforms.stages.consent import enabled_for
from transforms.stages.whitelist import is_whitelisted, normalise_event_name, parse_whitelist


@pytest.mark.parametrize("integrations, enabled", [
    (None, True),
    ({}, True),
    ({"Gainsight": True}, True),
    ({"Gainsight": False}, False),
    ({"All": False}, False),
    ({"All": False, "Gainsight": True}, True),
    ({"All": False, "Gainsight": {"someOption": 1}}, True),
    ({"All": True, "Gainsight": False}, False),
    ({"gainsight": False}, True),           # names are case-sensitive
    ({"All": False, "gainsight": True}, False),
    ({"Salesforce": False}, True),
])
def test_consent(integrations, enabled):
    event = {"type": "track"} if integrations is None else {"type": "track", "integrations": integrations}
    assert enabled_for(event, ("Gainsight",)) is enabled


@pytest.mark.parametrize("name", ["Order Completed", "order_completed", "order-completed",
                                  "ORDER COMPLETED", " Order  Completed ", "order.completed"])
def test_whitelist_ignores_case_and_separators(name):
    assert is_whitelisted(name, parse_whitelist("Order Completed,Signed Up"))


@pytest.mark.parametrize("name", ["OrderCompleted", "Order", "Order Completed Twice", "Signed"])
def test_whitelist_rejects_other_names(name):
    assert not is_whitelisted(name, parse_whitelist("Order Completed,Signed Up"))


def test_empty_whitelist_allows_everything():
    assert parse_whitelist("") == frozenset()
    assert parse_whitelist(" , ,") == frozenset()
    assert is_whitelisted("Anything At All", parse_whitelist(""))


def test_normalise_event_name():
    assert normalise_event_name("Order__Completed-Now.") == "order completed now"
