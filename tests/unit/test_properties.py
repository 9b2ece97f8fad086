"""Property-based tests (hypothesis) for parsing, consent, whitelist matching and enrichment."""
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.stages.accounts import AccountHistory
from transforms.stages.consent import enabled_for
from transforms.stages.parse import InvalidEvent, parse_line
from transforms.stages.whitelist import is_whitelisted, normalise_event_name, parse_whitelist

json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
ids = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=30)


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_fail_with_a_reason(raw):
    try:
        event = parse_line(raw)
    except InvalidEvent as err:
        assert str(err)
    else:
        assert isinstance(event, dict) and isinstance(event["messageId"], str)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["type", "userId", "anonymousId", "event", "groupId", "messageId",
                                        "properties", "traits", "integrations", "context"]), json_values))
def test_any_json_object_parses_or_fails_with_a_reason(obj):
    try:
        event = parse_line(json.dumps(obj).encode())
    except InvalidEvent as err:
        assert str(err)
    else:
        assert event["type"] == obj["type"] and (obj.get("userId") or obj.get("anonymousId"))


@given(st.sampled_from(["track", "identify", "group"]), ids, ids, st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_valid_events_round_trip_unchanged(call_type, user, message_id, extra):
    event = {"type": call_type, "userId": user, "messageId": message_id, "event": "Signed Up",
             "groupId": "G1", "properties": extra}
    assert parse_line(json.dumps(event).encode()) == event


settings_values = st.none() | st.booleans() | st.just({"opt": 1}) | st.integers(0, 1) | st.text(max_size=3)


@given(st.dictionaries(st.sampled_from(["All", "Gainsight", "gainsight", "Other"]), settings_values))
def test_consent_matches_segment_rule(integrations):
    gainsight = integrations.get("Gainsight")
    explicitly_on = gainsight is True or isinstance(gainsight, dict)
    expected = gainsight is not False and (explicitly_on or integrations.get("All") is not False)
    assert enabled_for({"integrations": integrations}, ("Gainsight",)) is expected


words = st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), min_size=1, max_size=4)
separators = st.sampled_from([" ", "_", "-", ".", "  ", "__", " - "])


@given(words, separators, st.booleans())
def test_whitelist_ignores_separator_and_case_changes(parts, separator, upper):
    listed = " ".join(parts)
    variant = separator.join(parts)
    variant = variant.upper() if upper else variant.lower()
    assert is_whitelisted(variant, parse_whitelist(listed))
    assert normalise_event_name(variant) == normalise_event_name(listed)


@given(words, words)
def test_whitelist_rejects_names_that_differ_in_letters(listed, other):
    if "".join(listed).lower() != "".join(other).lower():
        assert not is_whitelisted(" ".join(other), parse_whitelist(" ".join(listed)))


facts = st.lists(st.tuples(st.integers(0, 1000).map(float), st.sampled_from("ABCDEFG")), min_size=1, max_size=12, unique_by=lambda f: f[0])


@given(facts, st.integers(-10, 1010).map(float))
def test_account_at_is_the_latest_fact_not_after_else_the_first(history_facts, instant):
    earlier = [f for f in history_facts if f[0] <= instant]
    expected = max(earlier)[1] if earlier else min(history_facts)[1]
    assert AccountHistory(history_facts).account_at(instant) == expected
