"""--destination gainsight-api: its flags (start-up errors naming the flag), how a batch of
events becomes records (plain functions), and how an answer settles each record."""
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import ConfigError, resolve_config
from tests.conftest import ACCESS_KEY
from transforms.delivery import destinations
from transforms.delivery.destinations import gainsight_api as api
from transforms.delivery.destinations.base import DELIVERED, KEY_REJECTED, REJECTED, RETRY

DOMAIN = "https://acme.eu.gainsightcloud.com"
API_KEY = "a1b2c3-opaque-gainsight-api-key"


def resolve(argv, keys=None, environ=None):
    return resolve_config(PipelineOptions(argv), keys or {}, environ or {})


def config_error(argv, keys=None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve(argv, {"--access_key": API_KEY} if keys is None else keys)
    return caught.value


def api_args(events_file, *extra):
    return ["--input", events_file, "--destination", "gainsight-api", *extra]


# -- flags ------------------------------------------------------------------------------------

def test_the_domain_is_the_base_url_and_the_rate_comes_from_the_per_minute_cap(events_file):
    config = resolve(api_args(events_file, "--gainsight_domain", DOMAIN + "/"), {"--access_key": API_KEY})
    assert config.sink.endpoint == DOMAIN
    assert config.sink.max_requests_per_second == pytest.approx(90 / 60)
    assert config.sink.access_key.reveal() == API_KEY
    assert config.integration_names == ("Gainsight",)
    faster = resolve(api_args(events_file, "--gainsight_domain", DOMAIN, "--max_requests_per_minute", "30"),
                     {"--access_key": API_KEY})
    assert faster.sink.max_requests_per_second == pytest.approx(0.5)


def test_the_day_budget_defaults_under_gainsights_50000_and_is_shared_by_the_shards(events_file):
    config = resolve(api_args(events_file, "--gainsight_domain", DOMAIN), {"--access_key": API_KEY})
    assert config.sink.max_requests_per_day == 45_000
    assert config.sink.batch_size == 10_000   # one delivery merges up to this many events
    assert config.sink.max_concurrent_requests == 2
    shared = resolve(api_args(events_file, "--gainsight_domain", DOMAIN, "--max_requests_per_day", "1000",
                              "--sink_parallelism", "4"), {"--access_key": API_KEY})
    assert shared.sink.per_shard_day_budget() == 250
    classic = resolve(["--input", events_file], {"--access_key": ACCESS_KEY})
    assert classic.sink.max_requests_per_day is None and classic.sink.batch_size == 500
    assert classic.sink.max_concurrent_requests == 16


def test_the_key_may_come_from_the_connectors_variable(events_file):
    config = resolve(api_args(events_file, "--gainsight_domain", DOMAIN),
                     environ={"GAINSIGHT_ACCESS_KEY": API_KEY})
    assert config.sink.access_key.reveal() == API_KEY


@pytest.mark.parametrize("argv, flag, words", [
    ((), "--gainsight_domain", "required"),
    (("--gainsight_domain", "http://acme.gainsightcloud.com"), "--gainsight_domain", "https"),
    (("--gainsight_domain", "https://acme.gainsightcloud.com/v1/data"), "--gainsight_domain", "not a domain"),
    (("--gainsight_domain", DOMAIN, "--gainsight_endpoint", DOMAIN), "--gainsight_endpoint", "--gainsight_domain"),
    (("--gainsight_domain", DOMAIN, "--person_field", "traits.plan="), "--person_field", "field name"),
    (("--gainsight_domain", DOMAIN, "--person_field", "traits.plan=Plan__gc"), "--person_field", "Email"),
    (("--gainsight_domain", DOMAIN, "--company_field", "=Name"), "--company_field", "event path"),
    (("--gainsight_domain", DOMAIN, "--company_key", "SegmentId__gc"), "--company_key", "SegmentId__gc"),
    (("--gainsight_domain", DOMAIN, "--event_field", "event=EventName__gc"), "--event_field", "--event_object"),
    (("--gainsight_domain", DOMAIN, "--event_object", "SegmentEvent"), "--event_object", "__gc"),
    (("--gainsight_domain", DOMAIN, "--max_requests_per_minute", "0"), "--max_requests_per_minute", "greater than 0"),
    (("--gainsight_domain", DOMAIN, "--max_requests_per_day", "0"), "--max_requests_per_day", "1 or more"),
])
def test_bad_configuration_fails_naming_the_flag(events_file, argv, flag, words):
    error = config_error(api_args(events_file, *argv))
    assert error.flag == flag and words in str(error)


def test_http_is_allowed_on_loopback_only(events_file):
    config = resolve(api_args(events_file, "--gainsight_domain", "http://127.0.0.1:8123"),
                     {"--access_key": API_KEY})
    assert config.sink.endpoint == "http://127.0.0.1:8123"


@pytest.mark.parametrize("key, words", [("", "missing"), ("abc def", "whitespace")])
def test_an_empty_key_or_one_with_whitespace_is_refused_and_never_quoted(events_file, key, words):
    error = config_error(api_args(events_file, "--gainsight_domain", DOMAIN), {"--access_key": key})
    assert error.flag == "--access_key" and words in str(error)
    assert not key or key not in str(error)


def test_the_api_flags_belong_to_the_api_destination(events_file):
    error = config_error(["--input", events_file, "--event_object", "SegmentEvent__gc"],
                         {"--access_key": ACCESS_KEY})
    assert error.flag == "--event_object" and "gainsight-api" in str(error)


def test_the_connector_still_takes_only_a_uuid(events_file):
    error = config_error(["--input", events_file], {"--access_key": API_KEY})
    assert error.flag == "--access_key" and "UUID" in str(error)


def test_tracks_are_sent_only_with_an_event_object_and_the_note_says_why():
    without = destinations.get("gainsight-api", api.settings_from())
    assert without.call_types == ("identify", "group")
    assert "--event_object" in without.notes[0]
    with_object = destinations.get("gainsight-api", api.settings_from(event_object="SegmentEvent__gc"))
    assert with_object.call_types == ("identify", "group", "track") and with_object.notes == ()


def test_a_field_map_replaces_the_defaults():
    settings = api.settings_from(person_fields=["traits.email=Email", "traits.plan=Plan__gc"],
                                 company_fields=["groupId=SegmentId__gc", "traits.name=Name"],
                                 company_key="SegmentId__gc")
    assert settings.person_fields == (("traits.email", "Email"), ("traits.plan", "Plan__gc"))
    assert settings.company_key_path == "groupId"


# -- events to records ------------------------------------------------------------------------

def identify(message_id, user, when, **traits):
    return {"type": "identify", "messageId": message_id, "userId": user, "timestamp": when, "traits": traits}


def group(message_id, user, when, group_id, **traits):
    return {"type": "group", "messageId": message_id, "userId": user, "timestamp": when,
            "groupId": group_id, "traits": traits}


def test_a_persons_identifies_become_one_record_with_the_latest_value_of_each_field_by_time():
    events = [identify("i2", "u1", "2024-11-01T12:00:00+02:00", title="VP"),          # 10:00 UTC
              identify("i1", "u1", "2024-11-01T10:30:00Z", email="ann@x.example", title="CSM", firstName="Ann"),
              identify("i3", "u1", "2024-11-01T09:00:00Z", lastName="Lee")]
    plan = api.plan_batch(events, api.Settings())
    assert plan.people == {"ann@x.example": {"Email": "ann@x.example", "LastName": "Lee", "Title": "CSM",
                                             "FirstName": "Ann"}}
    assert sorted(plan.person_events["ann@x.example"]) == [0, 1, 2]


def test_an_identify_without_any_email_for_its_user_is_refused_with_a_reason():
    plan = api.plan_batch([identify("i1", "u1", "2024-11-01T10:00:00Z", title="VP")], api.Settings())
    assert plan.people == {} and "without an email" in plan.rejected[0]


def test_a_visit_stitched_to_a_user_is_that_persons_and_an_unstitched_one_without_email_is_refused():
    visit = {"type": "identify", "messageId": "a1", "anonymousId": "anon-1", "timestamp": "2024-11-01T09:00:00Z",
             "traits": {"firstName": "Ann", "title": "Visitor"}}
    stranger = {**visit, "messageId": "a2", "anonymousId": "anon-2"}
    signed_in = {**identify("i1", "u1", "2024-11-01T10:00:00Z", email="ann@x.example", title="CSM"),
                 "anonymousId": "anon-1"}
    plan = api.plan_batch([signed_in, stranger, visit], api.Settings())
    assert plan.people == {"ann@x.example": {"Email": "ann@x.example", "FirstName": "Ann", "Title": "CSM"}}
    assert sorted(plan.person_events["ann@x.example"]) == [0, 2]
    assert list(plan.rejected) == [1] and "without an email" in plan.rejected[1]


def test_companies_take_the_latest_values_and_the_user_is_linked_when_the_email_is_known():
    settings = api.settings_from(company_fields=["traits.name=Name", "traits.plan=Plan__gc"])
    events = [group("g1", "u1", "2024-11-01T11:00:00Z", "acc-1", name="Hooli", plan="growth"),
              group("g2", "u2", "2024-11-01T10:00:00Z", "acc-1", name="Hooli", plan="starter"),
              identify("i1", "u1", "2024-11-01T09:00:00Z", email="ann@hooli.example")]
    plan = api.plan_batch(events, settings)
    assert plan.companies == {"Hooli": {"Name": "Hooli", "Plan__gc": "growth"}}
    assert plan.person_companies == {"ann@hooli.example": ["Hooli"]}
    assert plan.not_linked == 1   # u2's email is not known


def test_a_group_keyed_by_group_id_and_without_the_key_is_refused():
    settings = api.settings_from(company_fields=["groupId=SegmentId__gc", "traits.name=Name"],
                                 company_key="SegmentId__gc")
    events = [group("g1", "u1", "2024-11-01T11:00:00Z", "acc-1", name="Hooli"),
              {"type": "group", "messageId": "g2", "userId": "u1", "traits": {"name": "No id"}}]
    plan = api.plan_batch(events, settings)
    assert plan.companies == {"acc-1": {"SegmentId__gc": "acc-1", "Name": "Hooli"}}
    assert "groupId" in plan.rejected[1]


def test_a_track_becomes_a_row_of_the_default_schema():
    settings = api.settings_from(event_object="SegmentEvent__gc")
    track = {"type": "track", "messageId": "t1", "userId": "u1", "event": "Report Exported",
             "timestamp": "2024-11-01T10:00:00Z", "properties": {"accountId": "acc-1", "rows": 3}}
    (index, row), = api.plan_batch([track], settings).rows
    assert row == {"EventName__gc": "Report Exported", "UserId__gc": "u1", "AccountId__gc": "acc-1",
                   "Timestamp__gc": "2024-11-01T10:00:00Z", "MessageId__gc": "t1",
                   "Properties__gc": '{"accountId":"acc-1","rows":3}'}


# -- answers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, text, verdict", [
    (200, '{"result": true, "data": {}}', DELIVERED),
    (200, '{"result": false, "errorCode": "GSOBJ_1003"}', REJECTED),
    (200, "not json", REJECTED),
    (400, '{"result": false, "errorCode": "GSOBJ_1002"}', REJECTED),
    (429, '{"result": false, "errorCode": "GU_2400"}', RETRY),
    (503, "", RETRY),
    (401, "", KEY_REJECTED),
])
def test_an_answer_settles_every_record_of_its_call(status, text, verdict):
    assert api.classify(status, text, 3) == [verdict] * 3


def test_named_errors_are_read_from_data_errors():
    envelope = {"result": False, "errorCode": "GSOBJ_1003", "data": {"errors": [
        {"index": 2, "errorCode": "GSOBJ_1003", "errorDesc": "Timestamp__gc must be a date"},
        {"index": 9, "errorCode": "GSOBJ_1003", "errorDesc": "out of range"}]}}
    assert api.named_errors(envelope, 3) == {2: "GSOBJ_1003: Timestamp__gc must be a date"}
    assert api.named_errors({"result": False, "data": None}, 3) == {}


def test_a_429_waits_for_the_next_minute_window():
    assert api.until_next_minute(429, "", clock=lambda: 1_000_000.0 * 60 + 59.5) == pytest.approx(1.5)
    assert api.until_next_minute(500, "") is None
