"""Account resolution: own account, history as of the event's time, mapping file, none."""
import math

import pytest

from transforms.stages.account_mapping import MappingError, parse_mapping
from transforms.stages.accounts import (AccountHistory, account_fact, mapped_account, own_account,
                                        user_key, with_account)
from transforms.common.timestamps import event_instant, to_instant


def test_own_account_per_call_type():
    assert own_account({"type": "track", "properties": {"accountId": "A"}}) == "A"
    assert own_account({"type": "identify", "traits": {"accountId": "B"}}) == "B"
    assert own_account({"type": "group", "groupId": "C"}) == "C"
    assert own_account({"type": "track", "properties": {}}) is None
    assert own_account({"type": "identify"}) is None
    assert own_account({"type": "track", "properties": {"accountId": ""}}) is None


def test_user_key_prefers_user_id():
    assert user_key({"userId": "u1", "anonymousId": "a1"}) == "u:u1"
    assert user_key({"anonymousId": "a1"}) == "a:a1"
    assert user_key({"userId": "", "anonymousId": "a1"}) == "a:a1"


def test_account_fact_only_from_identify_and_group():
    assert account_fact({"type": "group", "groupId": "G", "timestamp": "1970-01-01T00:00:10Z"}) == (10.0, "G")
    assert account_fact({"type": "track", "properties": {"accountId": "A"}}) is None
    assert account_fact({"type": "identify", "traits": {}}) is None
    assert account_fact({"type": "identify", "traits": {"accountId": "A"}}) == (-math.inf, "A")


def test_history_latest_at_or_before():
    history = AccountHistory([(10.0, "A"), (20.0, "B"), (30.0, "C")])
    assert history.account_at(20.0) == "B"        # at: the call at the same instant counts
    assert history.account_at(29.9) == "B"
    assert history.account_at(99.0) == "C"


def test_history_before_first_call_uses_the_first():
    assert AccountHistory([(20.0, "B"), (10.0, "A")]).account_at(1.0) == "A"


def test_history_unknown_time_uses_latest_and_empty_history_knows_nothing():
    assert AccountHistory([(10.0, "A"), (20.0, "B")]).account_at(None) == "B"
    assert AccountHistory([]).account_at(5.0) is None


def test_history_compares_instants_not_strings():
    # "12:00+02:00" is 10:00Z: earlier than "10:30Z" although it sorts later as a string.
    facts = [(to_instant("2024-11-01T12:00:00+02:00"), "A"), (to_instant("2024-11-01T10:45:00.000Z"), "B")]
    history = AccountHistory(facts)
    assert history.account_at(to_instant("2024-11-01T10:30:00Z")) == "A"
    assert history.account_at(to_instant("2024-11-01T10:50:00.000+00:00")) == "B"


def test_event_instant_falls_back_through_time_fields():
    assert event_instant({"timestamp": "bad", "originalTimestamp": "1970-01-01T00:01:00Z"}) == 60.0
    assert event_instant({}) is None


def test_mapping_by_user_then_anonymous():
    mapping = {"u1": "A", "anon-9": "B"}
    assert mapped_account({"userId": "u1", "anonymousId": "anon-9"}, mapping) == "A"
    assert mapped_account({"userId": "u2", "anonymousId": "anon-9"}, mapping) == "B"
    assert mapped_account({"userId": "u2"}, mapping) is None


def test_with_account_sets_the_field_per_type_without_touching_the_input():
    track = {"type": "track", "properties": {"plan": "pro"}}
    identify = {"type": "identify", "traits": {"audience_power_users": True}}
    assert with_account(track, "A")["properties"] == {"plan": "pro", "accountId": "A"}
    assert with_account(identify, "A")["traits"] == {"audience_power_users": True, "accountId": "A"}
    assert with_account({"type": "track"}, "A")["properties"] == {"accountId": "A"}
    assert track == {"type": "track", "properties": {"plan": "pro"}}
    assert with_account(track, None) is track


def test_mapping_csv_and_jsonl():
    assert parse_mapping("m.csv", "userId,accountId\nu1,A\n u2 ,B\n") == {"u1": "A", "u2": "B"}
    assert parse_mapping("m.jsonl", '{"userId": "u1", "accountId": "A"}\n\n') == {"u1": "A"}


@pytest.mark.parametrize("path, text, problem", [
    ("m.csv", "user,account\nu1,A\n", "header must name userId and accountId"),
    ("m.csv", "userId,accountId\nu1,\n", "line 2"),
    ("m.jsonl", "{bad\n", "line 1"),
    ("m.jsonl", "[1]\n", "expected an object"),
])
def test_mapping_errors_say_where(path, text, problem):
    with pytest.raises(MappingError, match=problem):
        parse_mapping(path, text)
