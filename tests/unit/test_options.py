"""Start-up validation: each bad flag fails before any data is read, naming the flag."""
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import (ConfigError, extract_keys, resolve_config, unknown_flags)
from tests.conftest import ACCESS_KEY


def resolve(argv, key=ACCESS_KEY, environ=None):
    return resolve_config(PipelineOptions(argv), {} if key is None else {"--access_key": key}, environ or {})


def flag_of(argv, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve(argv, **kwargs)
    return caught.value


def test_good_flags_resolve(events_file):
    config = resolve(["--input", events_file, "--track_whitelist", "A,B", "--max_requests_per_second", "20",
                      "--sink_parallelism", "4"])
    assert config.inputs == (events_file,)
    assert config.sink.per_shard_rate() == 5.0
    assert config.sink.access_key.reveal() == ACCESS_KEY


def test_input_is_repeatable(events_file, tmp_path):
    other = tmp_path / "more.jsonl.gz"
    other.write_bytes(b"")
    assert resolve(["--input", events_file, "--input", str(other)]).inputs == (events_file, str(other))


def test_key_from_environment(events_file):
    config = resolve(["--input", events_file], key=None, environ={"GAINSIGHT_ACCESS_KEY": ACCESS_KEY})
    assert config.sink.access_key.reveal() == ACCESS_KEY


@pytest.mark.parametrize("extra, flag", [
    (["--gainsight_endpoint", "http://gainsight.example.com"], "--gainsight_endpoint"),
    (["--gainsight_endpoint", "ftp://x"], "--gainsight_endpoint"),
    (["--batch_size", "0"], "--batch_size"),
    (["--max_concurrent_requests", "0"], "--max_concurrent_requests"),
    (["--max_requests_per_second", "0"], "--max_requests_per_second"),
    (["--max_retries", "-1"], "--max_retries"),
    (["--http_timeout_seconds", "0"], "--http_timeout_seconds"),
    (["--sink_parallelism", "0"], "--sink_parallelism"),
    (["--ca_bundle", "/no/such/ca.pem"], "--ca_bundle"),
    (["--runner", "DataflowRunner", "--dead_letter", "local/dl"], "--dead_letter"),
])
def test_bad_flag_is_named(events_file, extra, flag):
    assert flag_of(["--input", events_file] + extra).flag == flag


def test_missing_input_and_unmatched_pattern(tmp_path):
    assert "--input" in flag_of([]).flag
    error = flag_of(["--input", str(tmp_path / "nothing-*.gz")])
    assert error.flag == "--input" and "matches no files" in str(error)


@pytest.mark.parametrize("key", [None, "", "short", "35a84f9e-7084-47a1-b8a5-593444e9e86Z", "x" * 36])
def test_bad_key_is_named_and_not_echoed(events_file, key):
    error = flag_of(["--input", events_file], key=key)
    assert error.flag == "--access_key"
    if key:
        assert key not in str(error)


def test_preview_needs_no_key(events_file, tmp_path):
    config = resolve(["--input", events_file, "--preview", str(tmp_path / "p")], key=None)
    assert config.preview


def test_plain_http_allowed_on_loopback_or_when_asked(events_file):
    assert resolve(["--input", events_file, "--gainsight_endpoint", "http://127.0.0.1:8080"])
    assert resolve(["--input", events_file, "--gainsight_endpoint", "http://localhost:1"])
    assert resolve(["--input", events_file, "--gainsight_endpoint", "http://gs.example",
                    "--allow_insecure_endpoint"])


def test_bad_mapping_file_is_named(events_file, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("user,account\n")
    assert flag_of(["--input", events_file, "--account_mapping", str(mapping)]).flag == "--account_mapping"
    assert flag_of(["--input", events_file, "--account_mapping", str(tmp_path / "none.csv")]).flag == "--account_mapping"


def test_access_key_is_taken_out_of_argv():
    assert extract_keys(["--a", "1", "--access_key", "K", "--b"]) == ({"--access_key": "K"}, ["--a", "1", "--b"])
    assert extract_keys(["--access_key=K2"]) == ({"--access_key": "K2"}, [])
    assert extract_keys(["--input", "x"]) == ({}, ["--input", "x"])


def test_unknown_flags_are_reported():
    assert unknown_flags(["--input", "x", "--trak_whitelist", "A"]) == ["--trak_whitelist"]
    assert unknown_flags(["--input", "x", "--runner", "FnApiRunner", "--project", "p"]) == []


SUBSCRIPTION = "projects/my-project/subscriptions/segment"


def test_a_subscription_selects_streaming():
    config = resolve(["--input_subscription", SUBSCRIPTION, "--dead_letter_topic", "projects/my-project/topics/dead"])
    assert config.streaming and config.input_subscription == SUBSCRIPTION and config.inputs == ()


@pytest.mark.parametrize("argv, flag", [
    (["--input_subscription", SUBSCRIPTION, "--input_topic", "projects/my-project/topics/t"], "--input_subscription"),
    (["--input_subscription", "my-sub"], "--input_subscription"),
    (["--input_subscription", "projects/p/subscriptions/s"], "--input_subscription"),  # project id too short
    (["--input_subscription", SUBSCRIPTION, "--dead_letter_topic", "projects/My_Project/topics/d"],
     "--dead_letter_topic"),
    (["--input_topic", "projects/my-project/subs/x"], "--input_topic"),
    (["--input_subscription", SUBSCRIPTION, "--dead_letter_topic", "dead"], "--dead_letter_topic"),
    (["--input_subscription", SUBSCRIPTION, "--summary", "s.json"], "--summary"),
    (["--input_subscription", SUBSCRIPTION, "--preview", "p"], "--preview"),
    (["--input_subscription", SUBSCRIPTION, "--dedupe_window_hours", "0"], "--dedupe_window_hours"),
    (["--input_subscription", SUBSCRIPTION, "--identity_ttl_days", "0"], "--identity_ttl_days"),
    (["--input_subscription", SUBSCRIPTION, "--max_buffering_seconds", "-1"], "--max_buffering_seconds"),
    (["--input_subscription", SUBSCRIPTION, "--access_key_secret", "projects/p/secrets/s"], "--access_key_secret"),
])
def test_bad_streaming_flags_are_named(argv, flag):
    assert flag in flag_of(argv).flag


def test_dead_letter_topic_is_for_streaming_only(events_file):
    assert flag_of(["--input", events_file, "--dead_letter_topic", "projects/my-project/topics/d"]).flag == "--dead_letter_topic"


def test_secret_replaces_the_key_but_not_both(events_file):
    version = "projects/p/secrets/gainsight/versions/latest"
    config = resolve(["--input", events_file, "--access_key_secret", version], key=None)
    assert config.sink.access_key_secret == version
    assert flag_of(["--input", events_file, "--access_key_secret", version]).flag == "--access_key_secret"


def test_a_pubsub_path_error_explains_project_ids_and_a_secret_path_error_does_not():
    pubsub = flag_of(["--input_subscription", "projects/p/subscriptions/s"])
    secret = flag_of(["--input_subscription", SUBSCRIPTION, "--access_key_secret", "projects/p/secrets/s"])
    assert "a project id is 6 to 63" in str(pubsub)
    assert secret.flag == "--access_key_secret" and "project id" not in str(secret)


def test_identity_ttl_days_defaults_to_30_and_is_configurable():
    assert resolve(["--input_subscription", SUBSCRIPTION]).identity_ttl_days == 30.0
    assert resolve(["--input_subscription", SUBSCRIPTION, "--identity_ttl_days", "7.5"]).identity_ttl_days == 7.5
