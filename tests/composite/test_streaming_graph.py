"""The streaming graph under TestStream (processing time and watermark driven by the test),
delivering over real HTTP to the sandbox."""
import json
from dataclasses import replace

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.graph import build_pipeline
from pipeline.options import JobConfig
from tests.conftest import ACCESS_KEY
from transforms.common import tags
from transforms.delivery.sink import BatchRequests, SinkConfig
from transforms.delivery.secrets import Secret

STREAM_OPTIONS = ["--runner=BundleBasedDirectRunner", "--streaming"]


class FromTestStream(beam.PTransform):
    """TestStream of events (dicts) -> what ReadPubSubEvents yields."""

    def __init__(self, events):
        super().__init__()
        self._events = events

    def expand(self, pbegin):
        lines = (pbegin | self._events
                 | beam.Map(lambda event: (("test-stream", 0), json.dumps(event).encode())))
        empty = pbegin | "NoFileErrors" >> beam.Create([])
        return {tags.MAIN: lines, tags.DEAD_LETTER: empty}


def streaming_config(sandbox_url, tmp_path, **overrides) -> JobConfig:
    sink = SinkConfig(endpoint=sandbox_url, access_key=Secret(ACCESS_KEY), batch_size=50)
    config = JobConfig(inputs=(), track_whitelist="Order Completed,Signed Up", account_mapping=None,
                       dead_letter=str(tmp_path / "dl" / "dead-letter"), preview=None, summary=None, sink=sink,
                       input_subscription="projects/my-project/subscriptions/s", max_buffering_seconds=1.0)
    return replace(config, **overrides)


def run_stream(config, events):
    pipeline = beam.Pipeline(options=PipelineOptions(STREAM_OPTIONS))
    build_pipeline(pipeline, config, reader=FromTestStream(events))
    pipeline.run().wait_until_finish()


def track(message_id, user="u1", name="Order Completed", **fields):
    return {"type": "track", "userId": user, "messageId": message_id, "event": name, **fields}


def identify(message_id, account, user="u1", **fields):
    return {"type": "identify", "userId": user, "messageId": message_id, "traits": {"accountId": account}, **fields}


def accounts(received):
    return {m["messageId"]: (m.get("properties") or m.get("traits") or {}).get("accountId", m.get("groupId"))
            for m in received}


def test_identify_then_track_attaches_the_account_from_state(sandbox, tmp_path):
    stream = (test_stream.TestStream().advance_watermark_to(0).add_elements([identify("i1", "ACC-1")])
              .advance_processing_time(3600)              # an hour later, state still holds it
              .add_elements([track("t1")])
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path), stream)
    assert accounts(sandbox.received()) == {"i1": "ACC-1", "t1": "ACC-1"}


def test_track_before_a_late_identify_is_sent_without_waiting(sandbox, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("userId,accountId\nu2,ACC-MAP\n")
    stream = (test_stream.TestStream().advance_watermark_to(0).add_elements([track("t-early"), track("t-mapped", user="u2")])
              .advance_processing_time(10)
              .add_elements([identify("i-late", "ACC-LATE"), identify("i-u2", "ACC-2", user="u2")])
              .advance_processing_time(10)
              .add_elements([track("t-after"), track("t-u2-after", user="u2")])
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path, account_mapping=str(mapping)), stream)
    assert accounts(sandbox.received()) == {
        "t-early": None,            # documented: the early track cannot wait for the identify
        "t-mapped": "ACC-MAP",      # ... unless the mapping file knows the user
        "i-late": "ACC-LATE", "i-u2": "ACC-2",
        "t-after": "ACC-LATE", "t-u2-after": "ACC-2"}   # state beats the mapping once learned


def test_redelivery_inside_the_window_is_dropped_and_after_it_is_sent_again(sandbox, tmp_path):
    # Element timestamps are Pub/Sub publish times; a redelivery keeps its publish time.
    stream = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([TimestampedValue(track("m1"), 0)])
              .advance_watermark_to(30)
              .add_elements([TimestampedValue(track("m1"), 0)])     # redelivered 30 s later: dropped
              .advance_watermark_to(50)
              .add_elements([TimestampedValue(track("m1"), 50)])    # republished inside 60 s: dropped
              .advance_watermark_to(120)                            # the window has passed
              .add_elements([TimestampedValue(track("m1"), 120)])   # republished: sent again
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path, dedupe_window_hours=60 / 3600), stream)
    assert [m["messageId"] for m in sandbox.received()] == ["m1", "m1"]


def test_consent_whitelist_and_bad_lines_in_streaming(sandbox, tmp_path):
    stream = (test_stream.TestStream().advance_watermark_to(0).add_elements([
        track("ok"), track("opted-out", integrations={"Gainsight": False}),
        track("all-off", integrations={"All": False}), track("on-again", integrations={"All": False, "Gainsight": True}),
        track("not-listed", name="Dashboard Viewed"), track("listed-variant", name="signed_up"),
        {"type": "page", "userId": "u1", "messageId": "p1"}, {"type": "track", "userId": "u1"}])
        .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path), stream)
    assert sorted(m["messageId"] for m in sandbox.received()) == ["listed-variant", "ok", "on-again"]
    dead = [json.loads(line) for path in (tmp_path / "dl").glob("dead-letter*") for line in path.read_text().splitlines()]
    assert [r["reason"] for r in dead] == ["track without a non-empty string event"]


def test_buffering_timer_flushes_a_partial_batch():
    pipeline = beam.Pipeline(options=PipelineOptions(STREAM_OPTIONS))
    stream = (test_stream.TestStream().advance_watermark_to(0).add_elements([(f"a{i}", "{}") for i in range(3)])
              .advance_processing_time(10)                 # past max_buffering_seconds=5
              .add_elements([(f"b{i}", "{}") for i in range(2)])
              .advance_watermark_to_infinity())
    test_stream_clock = lambda: 0.0  # noqa: E731 - TestStream's processing time starts at 0
    batches = (pipeline | stream | BatchRequests(batch_size=100, shards=1, streaming=True,
                                                 max_buffering_seconds=5, clock=test_stream_clock)
               | beam.Map(lambda shard_batch: sorted(request[0] for request in shard_batch[1])))
    assert_that(batches, equal_to([["a0", "a1", "a2"], ["b0", "b1"]]))  # not one batch of five
    pipeline.run().wait_until_finish()


def anonymous_track(message_id, anonymous_id="a1", name="Order Completed", **fields):
    return {"type": "track", "anonymousId": anonymous_id, "messageId": message_id, "event": name, **fields}


def test_links_are_learned_as_they_arrive_and_an_earlier_anonymous_event_cannot_wait(sandbox, tmp_path):
    stream = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([anonymous_track("t-before")])
              .advance_processing_time(10)
              .add_elements([{"type": "page", "userId": "u1", "anonymousId": "a1", "messageId": "p1"},
                             identify("i1", "ACC-1", user="u1")])   # the page (not sent) links a1 -> u1
              .advance_processing_time(10)
              .add_elements([anonymous_track("t-after")])
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path), stream)
    assert accounts(sandbox.received()) == {"t-before": None, "i1": "ACC-1", "t-after": "ACC-1"}


def test_an_anonymous_identify_teaches_the_user_it_is_linked_to(sandbox, tmp_path):
    stream = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([track("login", user="u1", anonymousId="a1", name="Signed Up")])
              .advance_processing_time(10)
              .add_elements([{"type": "identify", "anonymousId": "a1", "messageId": "i-anon",
                              "traits": {"accountId": "ACC-A"}}])
              .advance_processing_time(10)
              .add_elements([anonymous_track("t-anon")])
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path), stream)
    assert accounts(sandbox.received()) == {"login": None, "i-anon": "ACC-A", "t-anon": "ACC-A"}


def test_what_was_learned_about_an_anonymous_id_is_forgotten_after_the_ttl(sandbox, tmp_path):
    stream = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([TimestampedValue(identify("i1", "ACC-1", user="u1", anonymousId="a1"), 0),
                             TimestampedValue({"type": "identify", "anonymousId": "a2", "messageId": "i-a2",
                                               "traits": {"accountId": "ACC-2"}}, 0)])
              .advance_watermark_to(30)
              .add_elements([TimestampedValue(anonymous_track("t-inside"), 30),
                             TimestampedValue(anonymous_track("t2-inside", "a2"), 30)])
              .advance_watermark_to(200)                      # 170 s idle: both forgotten at 90 s
              .add_elements([TimestampedValue(anonymous_track("t-after"), 200),
                             TimestampedValue(anonymous_track("t2-after", "a2"), 200)])
              .advance_watermark_to_infinity())
    run_stream(streaming_config(sandbox.url, tmp_path, identity_ttl_days=60 / 86400), stream)
    assert accounts(sandbox.received()) == {"i1": "ACC-1", "i-a2": "ACC-2", "t-inside": "ACC-1",
                                            "t2-inside": "ACC-2", "t-after": None, "t2-after": None}
