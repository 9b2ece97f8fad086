"""Issue 12's attribution rules as plain functions: own account (context.groupId, page like
track), identity links, owners, history per owner, mapping order, stitched, PHP empty arrays."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.stages.accounts import AccountHistory, attribute, mapped_account, own_account, with_account
from transforms.stages.dedupe import origin_id, settle_copies, settle_message_ids
from transforms.stages.identity import (decode_points, encode_points, identity_link, linked_user, merge_links,
                                        owner_of, owner_of_fact)
from transforms.stages.parse import InvalidEvent, parse_line
from transforms.common.timestamps import to_instant

T10 = "2024-11-01T10:00:00Z"


@pytest.mark.parametrize("event, account", [
    ({"type": "track", "context": {"groupId": "CTX"}}, "CTX"),
    ({"type": "page", "context": {"groupId": "CTX"}}, "CTX"),
    ({"type": "identify", "context": {"groupId": "CTX"}}, "CTX"),
    ({"type": "track", "properties": {"accountId": "P"}, "context": {"groupId": "CTX"}}, "P"),
    ({"type": "page", "properties": {"accountId": "P"}, "context": {"groupId": "CTX"}}, "P"),
    ({"type": "identify", "traits": {"accountId": "T"}, "context": {"groupId": "CTX"}}, "T"),
    ({"type": "group", "groupId": "G", "context": {"groupId": "CTX"}}, "G"),
    ({"type": "identify", "properties": {"accountId": "P"}}, None),   # identify reads traits
    ({"type": "track", "context": {"groupId": ""}}, None),
    ({"type": "track", "context": {"groupId": True}}, None),
])
def test_own_account(event, account):
    assert own_account(event) == account


@pytest.mark.parametrize("call_type, field", [("track", "properties"), ("page", "properties"),
                                              ("identify", "traits")])
def test_with_account_writes_only_the_account(call_type, field):
    event = {"type": call_type, "userId": "u", "anonymousId": "a", field: {"x": 1}}
    assert with_account(event, "A") == {**event, field: {"x": 1, "accountId": "A"}}


@pytest.mark.parametrize("event, link", [
    ({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": T10}, ("a1", to_instant(T10), "u1")),
    ({"type": "page", "userId": "u1", "anonymousId": "a1", "timestamp": T10}, ("a1", to_instant(T10), "u1")),
    ({"type": "screen", "userId": 7, "anonymousId": "a1"}, ("a1", -math.inf, "7")),
    ({"type": "alias", "userId": "u1", "previousId": "old", "anonymousId": "a9"}, ("old", -math.inf, "u1")),
    ({"type": "track", "userId": "u1"}, None),
    ({"type": "track", "anonymousId": "a1"}, None),
    ({"type": "alias", "userId": "u1"}, None),
])
def test_identity_link(event, link):
    assert identity_link(event) == link


def test_latest_link_at_or_before_else_earliest():
    runs = merge_links([(20.0, "bob"), (10.0, "ann"), (12.0, "ann")])
    assert runs == ((10.0, "ann"), (20.0, "bob"))
    assert [linked_user(runs, t) for t in (1.0, 10.0, 19.9, 20.0, 99.0)] == ["ann", "ann", "ann", "bob", "bob"]
    assert linked_user((), 5.0) is None


def test_owner_of_an_event():
    runs = merge_links([(to_instant(T10), "u1")])
    assert owner_of({"type": "track", "anonymousId": "a1", "timestamp": "2024-11-01T09:00:00Z"}, runs) == ("u:u1", True)
    assert owner_of({"type": "track", "anonymousId": "a1"}, ()) == ("a:a1", False)
    assert owner_of({"type": "track", "userId": "u2", "anonymousId": "a1"}, runs) == ("u:u2", False)
    assert owner_of_fact("a:a1", 5.0, runs) == ("u:u1", True)
    assert owner_of_fact("u:u3", 5.0, runs) == ("u:u3", False)


def test_mapping_by_resolved_user_then_own_user_then_anonymous_id():
    mapping = {"resolved": "R", "own": "O", "anon": "A"}
    assert mapped_account({"userId": "own", "anonymousId": "anon"}, mapping, "resolved") == "R"
    assert mapped_account({"userId": "own", "anonymousId": "anon"}, mapping, "nobody") == "O"
    assert mapped_account({"anonymousId": "anon"}, mapping, "nobody") == "A"
    assert mapped_account({"anonymousId": "x"}, mapping) is None


def test_attribute_counts_stitched_only_through_a_link():
    anon = {"type": "track", "anonymousId": "a1", "timestamp": T10}
    history = AccountHistory([(0.0, "H", False)])
    assert attribute(anon, history, {}, "u:u1", True) == ("H", True)
    assert attribute(anon, None, {"u1": "M"}, "u:u1", True) == ("M", True)
    assert attribute(anon, None, {"a1": "M"}, "u:u1", True) == ("M", False)   # the anonymousId's own row
    assert attribute({**anon, "properties": {"accountId": "OWN"}}, history, {}, "u:u1", True) == ("OWN", False)
    user_event = {"type": "track", "userId": "u1", "timestamp": T10}
    assert attribute(user_event, AccountHistory([(0.0, "H", True)]), {}, "u:u1", False) == ("H", True)
    assert attribute(user_event, history, {}, "u:u1", False) == ("H", False)
    assert attribute(user_event, None, {}, "u:u1", False) == (None, False)


@pytest.mark.parametrize("field", ["properties", "traits", "context", "integrations"])
def test_php_empty_array_is_read_and_sent_as_an_empty_object(field):
    event = parse_line(b'{"type":"identify","userId":"u1","messageId":"m1","%s":[]}' % field.encode())
    assert event[field] == {}


@pytest.mark.parametrize("field", ["properties", "traits", "context", "integrations"])
def test_non_empty_array_stays_invalid(field):
    with pytest.raises(InvalidEvent, match=f"{field} is an array"):
        parse_line(b'{"type":"identify","userId":"u1","%s":["x"]}' % field.encode())


def test_settle_copies_sends_the_copy_the_check_names_else_the_only_one():
    one, two = {"messageId": "m", "n": 1}, {"messageId": "m", "n": 2}
    assert settle_copies([((5, 1), one), ((4, 3), two)], {"m": (4, 3)}) == ([((4, 3), two)], 1, 0)
    assert settle_copies([((5, 1), one)], {"m": (5, 1)}) == ([((5, 1), one)], 0, 0)
    assert settle_copies([((5, 1), one)], {"m": (4, 3)}) == ([], 1, 0)   # the winner is in another group
    assert settle_copies([((5, 1), one)], {}) == ([((5, 1), one)], 0, 0)


def test_settle_copies_skips_the_chosen_copy_of_a_settled_message_and_counts_the_rest_as_copies():
    from transforms.outputs.checkpoint import SettledIds
    one, two = {"messageId": "m", "n": 1}, {"messageId": "m", "n": 2}
    other = {"messageId": "o", "n": 3}
    settled = SettledIds.from_ids(["m"])
    assert settle_copies([((5, 1), one), ((4, 3), two), ((6, 0), other)], {"m": (4, 3)}, settled) == (
        [((6, 0), other)], 1, 1)


def test_settle_message_ids_names_the_earliest_copy_of_ids_with_several_copies():
    rows = [("m1", ("a", 1), None),
            ("m2", ("b", 5), ["u:x", 1.0, "A"]), ("m2", ("a", 9), ["a:y", 2.0, "B"])]
    winners, facts = settle_message_ids(rows)
    assert winners == {"m2": origin_id("a", 9)}
    assert sorted(facts) == [("a:y", 2.0, "B")]   # only the winning copy's fact


def test_origin_ids_are_stable_and_tell_paths_apart():
    assert origin_id("gs://b/x.gz", 3) == origin_id("gs://b/x.gz", 3)
    assert origin_id("gs://b/x.gz", 3) != origin_id("gs://b/y.gz", 3)


# ------------------------------------------------------------------ properties

link_points = st.lists(st.tuples(st.integers(0, 50).map(float), st.sampled_from(["u1", "u2", "u3"])),
                       min_size=1, max_size=15)


@given(link_points, st.integers(-5, 55).map(float))
def test_merged_runs_resolve_like_all_the_links(points, instant):
    """The runs (only the first link of each same-user run) answer as all the links would."""
    ordered = sorted(set(points))
    before = [user for at, user in ordered if at <= instant]
    expected = before[-1] if before else ordered[0][1]
    assert linked_user(merge_links(points), instant) == expected


@given(st.lists(st.tuples(st.one_of(st.just(-math.inf), st.floats(-1e10, 1e10)), st.text(max_size=5)),
                max_size=10))
def test_link_points_survive_the_compact_encoding(points):
    """Batch ships every link point (runs are merged only once all of an anonymousId's links are
    together: merging partial runs is not exact), as JSON, with -inf as null."""
    assert sorted(decode_points(encode_points(points)), key=repr) == sorted(points, key=repr)


copies = st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]),
                            st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 20)),
                            st.sampled_from(["u:1", "a:x"])), min_size=1, max_size=12,
                  unique_by=lambda c: c[1])


@given(copies)
def test_groups_plus_the_check_send_exactly_the_earliest_copy_of_each_message(rows):
    """However copies fall into per-user groups, exactly one copy per messageId is sent: the
    earliest (path, line) one, and every other copy is counted once."""
    winners, _ = settle_message_ids([(mid, origin, None) for mid, origin, _ in rows])
    sent, counted = [], 0
    for key in {key for _, _, key in rows}:
        group = [(origin_id(*origin), {"messageId": mid}) for mid, origin, k in rows if k == key]
        chosen, duplicates, _ = settle_copies(group, winners)
        sent += [(event["messageId"], origin) for origin, event in chosen]
        counted += duplicates
    earliest = {}
    for mid, origin, _ in rows:
        earliest[mid] = min(earliest.get(mid, origin), origin)
    assert sorted(sent) == sorted((mid, origin_id(*origin)) for mid, origin in earliest.items())
    assert counted == len(rows) - len(earliest)
