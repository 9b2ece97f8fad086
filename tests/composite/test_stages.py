"""One TestPipeline test per composite: data in, exact data and counters out."""
import gzip
import functools
import json
import re

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from transforms.common import tags
from transforms.stages.consent import FilterConsent
from transforms.outputs.dead_letter import WriteDeadLetters
from transforms.stages.enrich import AttachAccountId
from transforms.outputs.jsonl_files import WriteJsonLines
from transforms.delivery.sink import BatchRequests, InlinePreview
from transforms.stages.parse import ParseEvents
from transforms.stages.read import ReadSegmentFiles
from transforms.stages.route import RouteByCallType
from transforms.stages.whitelist import FilterWhitelist


def track(message_id, user="u1", name="Signed Up", **fields):
    return {"type": "track", "event": name, "userId": user, "messageId": message_id, **fields}


def sourced(events):
    """Events as Parse emits them: ((path, line_number), event), lines numbered from 1."""
    return [(("f", line), event) for line, event in enumerate(events, start=1)]


def test_read_files_gz_and_plain_blank_lines_crlf_and_damaged_gzip(run, tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"n":1}\r\n\n   \n{"n":2}')
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as out:
        out.write(b'{"n":3}\n')
    whole = gzip.compress(b"".join(b'{"n":%d}\n' % n for n in range(100, 5100)))
    (tmp_path / "c.gz").write_bytes(whole[: len(whole) // 2])
    read = run.pipeline | ReadSegmentFiles([str(tmp_path / "*")])
    lines = read[tags.MAIN] | beam.Map(lambda sourced: (sourced[0][0].rsplit("/", 1)[1], sourced[0][1], sourced[1]))
    first_plain = lines | "Plain" >> beam.Filter(lambda line: line[0] != "c.gz")
    assert_that(first_plain, equal_to([("a.jsonl", 1, b'{"n":1}'), ("a.jsonl", 4, b'{"n":2}'),
                                       ("b.jsonl.gz", 1, b'{"n":3}')]), label="PlainAndGzip")
    damaged = (lines | "Damaged" >> beam.Filter(lambda line: line[0] == "c.gz")
               | beam.Map(lambda line: json.loads(line[2])["n"] == line[1] + 99) | beam.combiners.Count.PerElement())
    dead = read[tags.DEAD_LETTER] | beam.Map(lambda r: (r["stage"], r["source"].endswith("c.gz"), "EOFError" in r["reason"]))
    assert_that(dead, equal_to([("read", True, True)]), label="DeadLetter")
    assert_that(damaged | beam.Map(lambda kv: kv[0]), equal_to([True]), label="DamagedLinesInOrder")
    run.finish()
    assert run.counters["blank_lines"] == 2
    assert run.counters["unreadable_files"] == 1
    assert 1000 < run.counters["read"] - 3 < 5000  # lines before the damage were kept


def test_parse_splits_good_events_from_dead_letters(run):
    lines = [(("f", 1), json.dumps(track("m1")).encode()), (("f", 2), b"{oops")]
    parsed = run.pipeline | beam.Create(lines) | ParseEvents()
    assert_that(parsed[tags.MAIN], equal_to([(("f", 1), track("m1"))]), label="Good")
    assert_that(parsed[tags.DEAD_LETTER] | beam.Map(lambda r: (r["stage"], r["raw"], r["source"])),
                equal_to([("parse", "{oops", "f:2")]), label="Bad")
    assert run.finish().counters["invalid"] == 1


def test_dedupe_keeps_the_earliest_copy_and_counts_the_rest(run):
    """Batch: inside AttachAccountId's per-user grouping, earliest (path, line) copy wins."""
    copies = [(("b.gz", 1), track("m1", plan="late")), (("a.gz", 7), track("m1", plan="first")),
              (("a.gz", 9), track("m1", plan="later")), (("a.gz", 1), track("m2"))]
    deduped = run.pipeline | beam.Create(copies) | AttachAccountId(None)
    assert_that(deduped, equal_to([track("m1", plan="first"), track("m2")]))
    assert run.finish().counters["duplicates"] == 2


def test_dedupe_of_copies_that_cross_users_keeps_the_earliest_one_only(run):
    """Copies of one messageId under different users (one anonymous-only, one with a userId)
    meet in the compact check: only the earliest copy is sent, wherever it is."""
    copies = [(("a.gz", 5), track("m1", user="u1", anonymousId="x", plan="first")),
              (("b.gz", 1), {"type": "track", "event": "Signed Up", "anonymousId": "x", "messageId": "m1"}),
              (("a.gz", 2), {"type": "track", "event": "Signed Up", "anonymousId": "y", "messageId": "m2"}),
              (("a.gz", 3), track("m2", user="u2", plan="later"))]
    deduped = run.pipeline | beam.Create(copies) | AttachAccountId(None)
    assert_that(deduped | beam.Map(lambda e: (e["messageId"], e.get("userId"), e.get("anonymousId"))),
                equal_to([("m1", "u1", "x"), ("m2", None, "y")]))
    assert run.finish().counters["duplicates"] == 2


def test_consent_drops_opted_out_events_and_counts_them(run):
    events = [track("m1"), track("m2", integrations={"Gainsight": False}),
              track("m3", integrations={"All": False}), track("m4", integrations={"All": False, "Gainsight": True})]
    kept = run.pipeline | beam.Create(sourced(events)) | FilterConsent(("Gainsight",))
    assert_that(kept, equal_to([(("f", 1), events[0]), (("f", 4), events[3])]))
    assert run.finish().counters["skipped_by_integrations"] == 2


def test_route_by_call_type(run):
    events = [track("t1"), {"type": "identify", "userId": "u", "messageId": "i1"},
              {"type": "group", "userId": "u", "groupId": "G", "messageId": "g1"},
              {"type": "page", "userId": "u", "messageId": "p1"}, {"type": "screen", "userId": "u", "messageId": "s1"},
              {"type": "alias", "userId": "u", "messageId": "a1"}, {"type": "Track", "userId": "u", "messageId": "x1"}]
    routed = run.pipeline | beam.Create(sourced(events)) | RouteByCallType()
    assert_that(routed | beam.Map(lambda s: (s[0][1], s[1]["type"], s[1]["messageId"])),
                equal_to([(1, "track", "t1"), (2, "identify", "i1"), (3, "group", "g1")]))
    counters = run.finish().counters
    assert counters["unsupported"] == 4
    assert [counters[f"unsupported.{k}"] for k in ("page", "screen", "alias", "other")] == [1, 1, 1, 1]


def test_whitelist_filters_track_names_and_passes_identify_and_group(run):
    events = [track("m1", name="order_completed"), track("m2", name="Dashboard Viewed"),
              {"type": "identify", "userId": "u", "messageId": "i1"},
              {"type": "group", "userId": "u", "groupId": "G", "messageId": "g1"}]
    kept = run.pipeline | beam.Create(sourced(events)) | FilterWhitelist("Order Completed")
    assert_that(kept, equal_to([(("f", 1), events[0]), (("f", 3), events[2]), (("f", 4), events[3])]))
    assert run.finish().counters["filtered"] == 1


def test_attach_account_id(run, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("userId,accountId\nmapped-user,ACC-MAP\nanon-7,ACC-ANON\n")
    events = [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"accountId": "ACC-1"},
         "timestamp": "2024-11-01T10:00:00Z"},
        {"type": "group", "userId": "u1", "messageId": "g1", "groupId": "ACC-2", "timestamp": "2024-11-02T10:00:00Z"},
        track("t-before", user="u1", timestamp="2024-10-30T00:00:00Z"),
        track("t-between", user="u1", timestamp="2024-11-01T12:00:00+02:00"),
        track("t-after", user="u1", timestamp="2024-11-03T00:00:00.000Z"),
        track("t-own", user="u1", properties={"accountId": "ACC-OWN"}, timestamp="2024-11-03T00:00:00Z"),
        {"type": "identify", "userId": "u1", "messageId": "i-late", "traits": {"plan": "pro"},
         "timestamp": "2024-11-04T00:00:00Z"},
        track("t-mapped", user="mapped-user"),
        {"type": "track", "event": "E", "anonymousId": "anon-7", "messageId": "t-anon"},
        track("t-none", user="nobody"),
    ]
    enriched = run.pipeline | beam.Create(sourced(events)) | AttachAccountId(str(mapping))
    accounts = enriched | beam.Map(lambda e: (e["messageId"], (e.get("properties") or e.get("traits") or {}).get("accountId", e.get("groupId"))))
    assert_that(accounts, equal_to([
        ("i1", "ACC-1"), ("g1", "ACC-2"), ("t-before", "ACC-1"), ("t-between", "ACC-1"),
        ("t-after", "ACC-2"), ("t-own", "ACC-OWN"), ("i-late", "ACC-2"), ("t-mapped", "ACC-MAP"),
        ("t-anon", "ACC-ANON"), ("t-none", None)]))
    assert run.finish().counters["unmapped"] == 1


def test_batch_requests_cuts_shards_into_bounded_batches(run):
    requests = [(f"m{i}", "{}") for i in range(23)]
    batches = (run.pipeline | beam.Create(requests) | BatchRequests(batch_size=5, shards=3)
               | beam.Map(lambda sb: (sb[0], sorted(r[0] for r in sb[1]))))
    assert_that(batches | "Sizes" >> beam.Map(lambda sb: 0 <= sb[0] < 3 and 1 <= len(sb[1]) <= 5),
                _all_true(), label="Bounded")
    assert_that(batches | beam.FlatMap(lambda sb: sb[1]), equal_to([f"m{i}" for i in range(23)]), label="Complete")
    run.finish()


def test_batch_requests_by_user_keep_each_users_requests_in_one_batch(run):
    # 7 users with 1..7 requests each (28) in batches of 8: cut by messageId, most users'
    # requests would straddle two batches
    requests = [(f"u{user}", (f"u{user}-{n}", "{}")) for user in range(1, 8) for n in range(user)]
    batches = (run.pipeline | beam.Create(requests)
               | BatchRequests(batch_size=8, shards=2, by_user=True)
               | beam.Map(lambda sb: sorted(r[0] for r in sb[1])))

    def check(found):
        assert sorted(i for batch in found for i in batch) == sorted(r[1][0] for r in requests)
        assert all(len(batch) <= 8 for batch in found), found
        homes = {}
        for number, batch in enumerate(found):
            for message_id in batch:
                homes.setdefault(message_id.split("-")[0], set()).add(number)
        assert all(len(numbers) == 1 for numbers in homes.values()), found
    assert_that(batches, check)
    run.finish()


def _all_true():
    def check(values):
        assert values and all(values), values
    return check


URL = "https://event.gainsight.com/clickstream/segmentio/event"


def test_preview_inline_writes_bodies_without_key(run, tmp_path):
    events = [track("m1", properties={"accountId": "A"}), {"type": "group", "userId": "u", "groupId": "G", "messageId": "g"}]
    _ = (run.pipeline | beam.Create(sourced(events))
         | AttachAccountId(None, then=functools.partial(InlinePreview, URL, "/clickstream/segmentio/event"))
         | WriteJsonLines(str(tmp_path / "preview"), joined=True))
    counters = run.finish().counters
    lines = [json.loads(line) for path in tmp_path.glob("preview*.jsonl") for line in path.read_text().splitlines()]
    assert sorted(lines, key=lambda l: l["body"]["messageId"]) == [
        {"url": URL, "path": "/clickstream/segmentio/event", "body": events[1]},
        {"url": URL, "path": "/clickstream/segmentio/event", "body": events[0]}]
    assert (counters["previewed"], counters["by_type.track"], counters["by_type.group"]) == (2, 1, 1)


@pytest.mark.parametrize("own_files", [False, True], ids=["WriteToText", "a local run's own files"])
def test_write_json_lines_in_blocks_reads_back_line_by_line(run, tmp_path, own_files):
    from transforms.outputs.jsonl_files import WriteJsonLines
    lines = [json.dumps({"n": n, "text": "a\nb \u00e9"}) for n in range(7)]
    _ = (run.pipeline | beam.Create(lines)
         | WriteJsonLines(str(tmp_path / "sub" / "out"), block_lines=3, own_files=own_files))
    run.finish()
    paths = sorted((tmp_path / "sub").glob("out-*.jsonl"))
    texts = [path.read_text(encoding="utf-8") for path in paths]
    assert all(text.endswith("\n") for text in texts if text)
    assert sorted(line for text in texts for line in text.splitlines()) == sorted(lines)
    if own_files:   # named like the dead letters' files: PREFIX-<writer id>.jsonl
        assert all(re.fullmatch(r"out-[0-9a-f]{12}\.jsonl", path.name) for path in paths)
        assert not list(tmp_path.rglob("beam-temp*"))
    else:
        assert [path.name for path in paths] == ["out-00000-of-00001.jsonl"]


def test_write_dead_letters_as_jsonl(run, tmp_path):
    records = [{"stage": "parse", "reason": "r1", "raw": "x"}, {"stage": "deliver", "reason": "r2", "event": track("m")}]
    _ = run.pipeline | beam.Create(records) | WriteDeadLetters(str(tmp_path / "dl"))
    run.finish()
    written = [json.loads(line) for path in tmp_path.glob("dl-*.jsonl") for line in path.read_text().splitlines()]
    assert sorted(written, key=lambda r: r["reason"]) == records


def test_deliver_reads_the_key_from_secret_manager_once_per_worker_and_sends(run, sandbox):
    from tests.unit.test_secrets import VERSION, FakeSecretManager
    from transforms.delivery.sink import DeliverRequests, SinkConfig
    from transforms.delivery.secrets import Secret
    FakeSecretManager.calls = []
    config = SinkConfig(endpoint=sandbox.url, access_key=Secret(""), access_key_secret=VERSION,
                        secret_client_factory=FakeSecretManager)
    batches = [(0, [(f"m{i}", json.dumps(track(f"m{i}"))) for i in range(5)]),
               (0, [("m5", json.dumps(track("m5")))])]
    dead = run.pipeline | beam.Create(batches) | DeliverRequests(config)
    assert_that(dead, equal_to([]))
    counters = run.finish().counters
    assert sorted(m["messageId"] for m in sandbox.received()) == [f"m{i}" for i in range(6)]
    assert counters["delivered"] == 6 and counters["requests"] == 6
    assert FakeSecretManager.calls == [VERSION]


def test_deliver_dead_letters_permanent_failures_with_status_and_event(run, start_sandbox):
    from transforms.delivery.sink import DeliverRequests, SinkConfig
    from transforms.delivery.secrets import Secret
    from tests.conftest import ACCESS_KEY
    sandbox = start_sandbox(rate_400=1.0)
    config = SinkConfig(endpoint=sandbox.url, access_key=Secret(ACCESS_KEY))
    dead = (run.pipeline | beam.Create([(0, [("m1", json.dumps(track("m1")))])]) | DeliverRequests(config)
            | beam.Map(lambda r: (r["stage"], r["status"], r["attempts"], r["event"]["messageId"], r["reason"][:8])))
    assert_that(dead, equal_to([("deliver", 400, 1, "m1", "HTTP 400")]))
    assert run.finish().counters["dead_lettered"] == 1


def test_read_fails_loudly_when_a_pattern_matches_nothing(run, tmp_path):
    import pytest
    (tmp_path / "a.jsonl").write_text('{"n":1}\n')
    _ = run.pipeline | ReadSegmentFiles([str(tmp_path / "a.jsonl"), str(tmp_path / "missing-*.gz")])
    with pytest.raises(Exception, match="missing-"):
        run.finish()
