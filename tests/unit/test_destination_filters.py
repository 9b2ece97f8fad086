"""Destination filters against the examples of Segment's destination filter page
(segment-docs src/connections/destinations/destination-filters.md) and tsub-js's transformers."""
import hashlib
import json

import pytest

from transforms.stages.destination_filters import (FilterError, apply_filters, parse_filters,
                                                   sample_fraction)


def filters(*items):
    return parse_filters(json.dumps(list(items)))


def rule(title, condition, *actions, enabled=True):
    return {"title": title, "if": condition, "actions": list(actions), "enabled": enabled}


def test_pii_management_removes_email_from_context_and_properties():
    pii = filters(rule("No emails", "type = 'track'",
                       {"type": "DROP_PROPERTIES", "fields": {"context": ["email"], "properties": ["email"]}}))
    event = {"type": "track", "context": {"email": "a@x.io", "ip": "1.2.3.4"},
             "properties": {"email": "a@x.io", "plan": "pro"}}
    sent, dropped_by = apply_filters(event, pii)
    assert dropped_by is None
    assert sent == {"type": "track", "context": {"ip": "1.2.3.4"}, "properties": {"plan": "pro"}}
    assert event["properties"]["email"] == "a@x.io"   # the input is not changed


def test_only_send_two_events_is_a_drop_of_the_others():
    only = filters(rule("Only sign-ups and demos",
                        "!( event = 'User Signed Up' or event = 'Demo Requested' )", {"type": "DROP"}))
    assert apply_filters({"event": "Demo Requested"}, only) == ({"event": "Demo Requested"}, None)
    assert apply_filters({"event": "Page Scrolled"}, only) == (None, "Only sign-ups and demos")


def test_only_track_calls_and_internal_test_events():
    rules = filters(rule("Tracks only", "type != 'track'", {"type": "DROP"}),
                    rule("No internal", "event = 'Order Completed' and contains( properties.email, '@segment.com' )",
                         {"type": "DROP"}))
    assert apply_filters({"type": "identify"}, rules) == (None, "Tracks only")
    internal = {"type": "track", "event": "Order Completed", "properties": {"email": "me@segment.com"}}
    assert apply_filters(internal, rules) == (None, "No internal")
    outside = {"type": "track", "event": "Order Completed", "properties": {"email": "me@acme.io"}}
    assert apply_filters(outside, rules) == (outside, None)


def test_array_properties_lose_the_field_in_every_object():
    rules = filters(rule("No newElement", "type = 'track'",
                         {"type": "DROP_PROPERTIES", "fields": {"properties.products": ["newElement"]}}))
    event = {"type": "track", "properties": {"products": [{"sku": "a", "newElement": 1}, {"sku": "b"}, "x"]}}
    sent = apply_filters(event, rules)[0]
    assert sent["properties"]["products"] == [{"sku": "a"}, {"sku": "b"}, "x"]
    assert event["properties"]["products"][0] == {"sku": "a", "newElement": 1}   # the input is not changed


def test_allow_properties_keeps_only_the_named_keys_and_top_level_is_the_empty_path():
    rules = filters(rule("Allow", "type = 'identify'",
                         {"type": "ALLOW_PROPERTIES", "fields": {"traits": ["accountId", "name"],
                                                                 "": ["type", "userId", "traits", "messageId"]}}))
    event = {"type": "identify", "userId": "u", "messageId": "m", "context": {"ip": "x"},
             "traits": {"accountId": "A", "name": "N", "email": "e"}}
    assert apply_filters(event, rules)[0] == {"type": "identify", "userId": "u", "messageId": "m",
                                              "traits": {"accountId": "A", "name": "N"}}


def test_actions_run_in_segments_order_across_filters_on_the_event_as_it_arrived():
    rules = filters(
        rule("Allow plan", "type = 'track'", {"type": "ALLOW_PROPERTIES", "fields": {"properties": ["plan", "email"]}}),
        rule("Drop email", "properties.email != null", {"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}}),
        rule("Drop internal", "properties.internal = true", {"type": "DROP"}),
    )
    event = {"type": "track", "properties": {"plan": "pro", "email": "e", "internal": False, "x": 1}}
    # allow (listed first) runs after drop properties; the drop's `if` saw properties.email
    assert apply_filters(event, rules) == ({"type": "track", "properties": {"plan": "pro"}}, None)
    event["properties"]["internal"] = True
    assert apply_filters(event, rules) == (None, "Drop internal")   # drop before any property action


def test_a_disabled_filter_is_checked_but_not_applied():
    rules = filters(rule("Off", "type = 'track'", {"type": "DROP"}, enabled=False))
    assert apply_filters({"type": "track"}, [f for f in rules if f.enabled]) == ({"type": "track"}, None)
    with pytest.raises(FilterError, match="filter 'Off'"):
        filters(rule("Off", "type = ", {"type": "DROP"}, enabled=False))


def test_sample_fraction_is_the_md5_of_the_values_json_as_a_binary_fraction():
    for value in ("user-1", "u2", 12, None, ["a"]):
        text = json.dumps(value, separators=(",", ":"))
        expected = int(hashlib.md5(text.encode()).hexdigest()[:16], 16) / 2 ** 64
        assert abs(sample_fraction(value) - expected) < 2 ** -52


def test_sampling_on_a_path_keeps_a_share_the_same_users_and_nested_subsets():
    def kept(percent, path="userId"):
        rules = filters(rule("Sample", "type = 'track'", {"type": "SAMPLE", "percent": percent, "path": path}))
        return {f"u{n}" for n in range(4000)
                if apply_filters({"type": "track", "userId": f"u{n}"}, rules)[0] is not None}
    ten, thirty = kept(0.1), kept(0.3)
    assert 320 < len(ten) < 480 and 1050 < len(thirty) < 1350
    assert ten < thirty
    assert kept(0) == set() and len(kept(1)) == 4000
    assert ten == {u for u in (f"u{n}" for n in range(4000)) if sample_fraction(u) < 0.1}


def test_sampling_without_a_path_samples_on_the_message_id():
    rules = filters(rule("Sample", "true", {"type": "SAMPLE", "percent": 0.5}))
    fates = {m: apply_filters({"messageId": m}, rules)[1] for m in (f"m{n}" for n in range(200))}
    assert all((fate is None) == (sample_fraction(m) < 0.5) for m, fate in fates.items())
    assert fates == {m: apply_filters({"messageId": m}, rules)[1] for m in fates}


def test_public_api_answer_and_terraform_fields_are_read_as_they_are():
    answer = {"data": {"filters": [{"id": "f1", "sourceId": "s", "destinationId": "d", "title": "T",
                                    "description": None, "if": "all = 1", "enabled": True,
                                    "actions": [{"type": "DROP_PROPERTIES",
                                                 "fields": json.dumps({"properties": ["a"]})}]}]}}
    (only,) = parse_filters(json.dumps(answer))
    assert only.title == "T" and apply_filters({"all": 1, "properties": {"a": 1}}, [only])[0] == {
        "all": 1, "properties": {}}


@pytest.mark.parametrize("document,words", [
    ("{", "not JSON"),
    ('{"x": 1}', "expected a JSON list"),
    ('[{"if": "true", "actions": [{"type": "DROP"}]}]', "filter #1: needs a `title`"),
    ('[{"title": "A", "actions": [{"type": "DROP"}]}]', "filter 'A': needs an `if`"),
    ('[{"title": "A", "if": "type = \'x\' )", "actions": [{"type": "DROP"}]}]',
     "filter 'A': `if` unexpected ')' at position 12: type = 'x' )"),
    ('[{"title": "A", "if": "true", "actions": [{"type": "SHOUT"}]}]', "filter 'A': unknown action 'SHOUT'"),
    ('[{"title": "A", "if": "true", "actions": []}]', "non-empty list of `actions`"),
    ('[{"title": "A", "if": "true", "actions": [{"type": "SAMPLE", "percent": 10}]}]', "percent` from 0 to 1"),
    ('[{"title": "A", "if": "true", "actions": [{"type": "DROP_PROPERTIES", "fields": ["a"]}]}]', "needs `fields`"),
])
def test_bad_filters_say_which_and_why(document, words):
    with pytest.raises(FilterError) as caught:
        parse_filters(document)
    assert words in str(caught.value)
