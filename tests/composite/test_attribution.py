"""TestPipeline per attribution rule (issue 12): Consent -> LinkIdentities -> RouteByCallType ->
Whitelist -> AttachAccountId, as the batch graph wires them, with Gainsight CS's call types or
with page calls sent (the PX destination's)."""
import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tests.e2e.cli import ROOT
from transforms.common import tags
from transforms.stages.consent import FilterConsent
from transforms.stages.enrich import AttachAccountId
from transforms.stages.identity import LinkIdentities
from transforms.stages.parse import ParseEvents
from transforms.stages.read import ReadSegmentFiles
from transforms.stages.route import RouteByCallType
from transforms.stages.whitelist import FilterWhitelist

WITH_PAGES = tags.SENDABLE_TYPES + (tags.PAGE,)


def account_of(event):
    if event["type"] == "group":
        return event["groupId"]
    field = "traits" if event["type"] == "identify" else "properties"
    return (event.get(field) or {}).get("accountId")


def attributed(pipeline, sourced, call_types=tags.SENDABLE_TYPES, mapping=None, whitelist=""):
    consented = pipeline | beam.Create(sourced) | FilterConsent(("Gainsight",))
    links = consented | LinkIdentities()
    return (consented | RouteByCallType(call_types) | FilterWhitelist(whitelist)
            | AttachAccountId(mapping, links=links))


def sent_accounts(pipeline, events, **kwargs):
    sourced = [(("f", line), event) for line, event in enumerate(events, start=1)]
    return attributed(pipeline, sourced, **kwargs) | beam.Map(lambda e: (e["messageId"], account_of(e)))


def event(message_id, call_type="track", at="2024-11-01T10:00:00Z", **fields):
    body = {"type": call_type, "messageId": message_id, "timestamp": at, **fields}
    if call_type == "track":
        body.setdefault("event", "Signed Up")
    return body


def test_context_group_id_is_the_own_account_of_tracks_pages_and_identifies(run):
    events = [event("t1", userId="u1", context={"groupId": "CTX-T"}),
              event("p1", "page", userId="u1", context={"groupId": "CTX-P"}),
              event("p2", "page", userId="u1", properties={"accountId": "OWN"}, context={"groupId": "CTX-P"}),
              event("i1", "identify", userId="u2", context={"groupId": "CTX-I"}),
              event("t2", userId="u2", at="2024-11-01T11:00:00Z"),        # history: the identify's
              event("g1", "group", userId="u3", groupId="G", context={"groupId": "CTX-G"})]
    assert_that(sent_accounts(run.pipeline, events, call_types=WITH_PAGES), equal_to([
        ("t1", "CTX-T"), ("p1", "CTX-P"), ("p2", "OWN"), ("i1", "CTX-I"), ("t2", "CTX-I"), ("g1", "G")]))
    run.finish()


def test_pages_are_attributed_like_tracks_where_they_are_sent(run):
    events = [event("p-anon", "page", anonymousId="a1", at="2024-11-01T09:00:00Z"),
              event("i1", "identify", userId="u1", anonymousId="a1", traits={"accountId": "ACC"}),
              event("p-user", "page", userId="u1", at="2024-11-01T12:00:00Z", properties={"path": "/x"})]
    accounts = sent_accounts(run.pipeline, events, call_types=WITH_PAGES)
    assert_that(accounts, equal_to([("p-anon", "ACC"), ("i1", "ACC"), ("p-user", "ACC")]))
    assert run.finish().counters["stitched"] == 1


def test_a_visitor_who_signs_up_is_stitched_to_the_user(run):
    events = [event("t-anon", anonymousId="a1", at="2024-11-01T09:00:00Z"),
              event("i1", "identify", userId="u1", anonymousId="a1", traits={"accountId": "ACC"}),
              event("t-anon-other", anonymousId="a2")]
    assert_that(sent_accounts(run.pipeline, events), equal_to([("t-anon", "ACC"), ("i1", "ACC"),
                                                               ("t-anon-other", None)]))
    counters = run.finish().counters
    assert counters["stitched"] == 1 and counters["unmapped"] == 1


def test_links_come_from_events_that_are_not_sent_alias_page_and_tracks_off_the_whitelist(run):
    events = [event("t-a", anonymousId="via-alias"), event("t-b", anonymousId="via-page"),
              event("t-c", anonymousId="via-filtered"),
              event("al", "alias", userId="u1", previousId="via-alias"),
              event("pg", "page", userId="u2", anonymousId="via-page"),
              event("tf", userId="u3", anonymousId="via-filtered", **{"event": "Not Listed"}),
              event("g1", "group", userId="u1", groupId="G1"), event("g2", "group", userId="u2", groupId="G2"),
              event("g3", "group", userId="u3", groupId="G3")]
    accounts = sent_accounts(run.pipeline, events, whitelist="Signed Up")
    assert_that(accounts, equal_to([("t-a", "G1"), ("t-b", "G2"), ("t-c", "G3"),
                                    ("g1", "G1"), ("g2", "G2"), ("g3", "G3")]))
    assert run.finish().counters["stitched"] == 3


def test_an_opted_out_call_links_nothing(run):
    events = [event("t-anon", anonymousId="a1"),
              event("i-out", "identify", userId="u1", anonymousId="a1", traits={"accountId": "ACC"},
                    integrations={"Gainsight": False}),
              event("g1", "group", userId="u1", groupId="ACC")]
    assert_that(sent_accounts(run.pipeline, events), equal_to([("t-anon", None), ("g1", "ACC")]))
    assert run.finish().counters.get("stitched", 0) == 0


def test_one_anonymous_id_two_users_latest_link_at_or_before_else_earliest(run):
    events = [event("ann", "identify", userId="ann", anonymousId="kiosk", at="2024-11-01T09:00:00Z",
                    traits={"accountId": "ANN"}),
              event("bob", "identify", userId="bob", anonymousId="kiosk", at="2024-11-01T13:00:00+02:00",
                    traits={"accountId": "BOB"}),
              event("t-early", anonymousId="kiosk", at="2024-11-01T08:00:00"),
              event("t-ann", anonymousId="kiosk", at="2024-11-01T10:59:59.999Z"),
              event("t-bob", anonymousId="kiosk", at="2024-11-01T06:00:00-05:00")]
    assert_that(sent_accounts(run.pipeline, events), equal_to([
        ("ann", "ANN"), ("bob", "BOB"), ("t-early", "ANN"), ("t-ann", "ANN"), ("t-bob", "BOB")]))
    run.finish()


def test_an_anonymous_identify_teaches_the_linked_user_and_mapping_goes_by_resolved_user(run, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("userId,accountId\nu2,MAP-U2\na2,MAP-A2\n")
    events = [event("i-anon", "identify", anonymousId="a1", traits={"accountId": "ANON-ACC"}),
              event("t-login", userId="u1", anonymousId="a1", at="2024-11-01T11:00:00Z"),
              event("t-anon2", anonymousId="a2"),
              event("t-u2", userId="u2", anonymousId="a2", at="2024-11-01T12:00:00Z")]
    assert_that(sent_accounts(run.pipeline, events, mapping=str(mapping)), equal_to([
        ("i-anon", "ANON-ACC"), ("t-login", "ANON-ACC"), ("t-anon2", "MAP-U2"), ("t-u2", "MAP-U2")]))
    assert run.finish().counters["stitched"] == 2


def test_only_the_account_is_added_ids_are_never_rewritten(run):
    events = [event("t-anon", anonymousId="a1", properties={"plan": "pro"}),
              event("i1", "identify", userId="u1", anonymousId="a1", traits={"accountId": "ACC"})]
    sourced = [(("f", n), e) for n, e in enumerate(events, 1)]
    out = attributed(run.pipeline, sourced) | beam.Filter(lambda e: e["messageId"] == "t-anon")
    assert_that(out, equal_to([{**events[0], "properties": {"plan": "pro", "accountId": "ACC"}}]))
    run.finish()


def test_php_empty_arrays_are_sent_as_empty_objects(run):
    line = (b'{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1","context":[],'
            b'"integrations":[],"properties":[]}')
    parsed = run.pipeline | beam.Create([(("f", 1), line)]) | ParseEvents()
    sent = parsed[tags.MAIN] | FilterConsent(("Gainsight",)) | AttachAccountId(None)
    assert_that(sent, equal_to([{"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1",
                                 "context": {}, "integrations": {}, "properties": {}}]))
    run.finish()


def test_samples_pages_get_the_answer_keys_account_where_pages_are_sent(run):
    """The bundled export with page calls sent (the PX destination's call types): every page
    carries the account samples/expected_pages.jsonl says, and the other calls keep theirs."""
    samples = ROOT / "samples"
    lines = run.pipeline | ReadSegmentFiles([str(samples / "segment-logs" / "*" / "*" / "*.gz")])
    parsed = lines[tags.MAIN] | ParseEvents()
    consented = parsed[tags.MAIN] | FilterConsent(("Gainsight",))
    links = consented | LinkIdentities()
    sent = (consented | RouteByCallType(WITH_PAGES)
            | FilterWhitelist("Order Completed,Signed Up,Feature Used,Report Exported")
            | AttachAccountId(str(samples / "account_mapping.csv"), links=links))
    expected = [json.loads(line) for line in (samples / "expected.jsonl").read_text().splitlines()]
    pages = [json.loads(line) for line in (samples / "expected_pages.jsonl").read_text().splitlines()]
    assert all(page["messageId"] for page in pages)
    want = [(e["messageId"], e["accountId"]) for e in expected if e["messageId"]]
    want += [(p["messageId"], p["accountId"]) for p in pages]
    got = (sent | beam.Filter(lambda e: not e["messageId"].startswith("derived-"))
           | beam.Map(lambda e: (e["messageId"], account_of(e))))
    assert_that(got, equal_to(want))
    counters = run.finish().counters
    assert counters.get("unsupported.page", 0) == 0 and counters["duplicates"] == 6
