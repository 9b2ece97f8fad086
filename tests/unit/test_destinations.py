"""The destination layer: each destination's contract, and the flags that choose one."""
import base64

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import ConfigError, resolve_config
from tests.conftest import ACCESS_KEY
from transforms.delivery import destinations
from transforms.stages.consent import enabled_for
from transforms.delivery.destinations.base import DELIVERED, KEY_REJECTED, REJECTED, RETRY, classify_by_status

PX_KEY = "AP-TESTKEY123456-2"
CS = destinations.get("gainsight")
PX = destinations.get("gainsight-px")


def resolve(argv, keys=None, environ=None):
    return resolve_config(PipelineOptions(argv), keys or {}, environ or {})


def config_error(argv, keys=None, environ=None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve(argv, keys, environ)
    return caught.value


def test_each_destination_takes_its_own_call_types():
    assert CS.call_types == ("track", "identify", "group")
    assert PX.call_types == ("track", "identify", "group", "page")


@pytest.mark.parametrize("region, url", [
    ("us", "https://segment-esp.aptrinsic.com/rte/segmentio/v1/push"),
    ("eu", "https://segment-esp-eu.aptrinsic.com/rte/segmentio/v1/push"),
    ("us2", "https://segment-esp-us2.aptrinsic.com/rte/segmentio/v1/push"),
])
def test_px_region_picks_the_base_url(events_file, region, url):
    config = resolve(["--input", events_file, "--destination", "gainsight-px", "--px_region", region],
                     {"--px_api_key": PX_KEY})
    assert config.sink.url == url
    assert config.destination == "gainsight-px"


def test_the_endpoint_flag_replaces_the_base_and_keeps_the_destinations_path(events_file):
    config = resolve(["--input", events_file, "--destination", "gainsight-px",
                      "--gainsight_endpoint", "http://127.0.0.1:9/"], {"--px_api_key": PX_KEY})
    assert config.sink.url == "http://127.0.0.1:9/rte/segmentio/v1/push"
    classic = resolve(["--input", events_file, "--gainsight_endpoint", "http://127.0.0.1:9"],
                      {"--access_key": ACCESS_KEY})
    assert classic.sink.url == "http://127.0.0.1:9/clickstream/segmentio/event"


def test_the_default_destination_is_gainsight_cs_as_before(events_file):
    config = resolve(["--input", events_file], {"--access_key": ACCESS_KEY})
    assert config.sink.url == "https://event.gainsight.com/clickstream/segmentio/event"
    assert config.integration_names == ("Gainsight",)


def test_px_key_from_the_environment(events_file):
    config = resolve(["--input", events_file, "--destination", "gainsight-px"],
                     environ={"GAINSIGHT_PX_API_KEY": PX_KEY})
    assert config.sink.access_key.reveal() == PX_KEY


@pytest.mark.parametrize("key, words", [
    (ACCESS_KEY, "looks like a Gainsight CS access key"),
    ("PX-123", "must start with AP-"),
    ("AP-12 34", "whitespace"),
    ("AP-", "only the AP- prefix"),
])
def test_a_malformed_px_key_is_refused_naming_the_flag_and_never_quoted(events_file, key, words):
    error = config_error(["--input", events_file, "--destination", "gainsight-px"], {"--px_api_key": key})
    assert error.flag == "--px_api_key" and words in str(error)
    assert len(key) <= 3 or key not in str(error)


def test_a_given_px_key_is_checked_in_preview_too(events_file, tmp_path):
    error = config_error(["--input", events_file, "--destination", "gainsight-px",
                          "--preview", str(tmp_path / "p")], {"--px_api_key": ACCESS_KEY})
    assert error.flag == "--px_api_key"
    config = resolve(["--input", events_file, "--destination", "gainsight-px", "--preview", str(tmp_path / "p")])
    assert config.preview


def test_a_px_run_needs_its_key(events_file):
    error = config_error(["--input", events_file, "--destination", "gainsight-px"],
                         {"--access_key": ACCESS_KEY}, environ={"GAINSIGHT_ACCESS_KEY": ACCESS_KEY})
    assert error.flag == "--access_key" and "is for --destination gainsight" in str(error)
    error = config_error(["--input", events_file, "--destination", "gainsight-px"],
                         environ={"GAINSIGHT_ACCESS_KEY": ACCESS_KEY})
    assert error.flag == "--px_api_key" and "missing" in str(error)


def test_an_access_key_shaped_like_a_px_key_hints_at_the_destination(events_file):
    error = config_error(["--input", events_file], {"--access_key": PX_KEY})
    assert error.flag == "--access_key" and "--destination gainsight-px" in str(error)


def test_px_region_is_for_px_only(events_file):
    error = config_error(["--input", events_file, "--px_region", "eu"], {"--access_key": ACCESS_KEY})
    assert error.flag == "--px_region"


def test_integration_name_replaces_the_destinations_names(events_file):
    config = resolve(["--input", events_file, "--destination", "gainsight-px", "--integration_name", "My PX",
                      "--integration_name", "Other"], {"--px_api_key": PX_KEY})
    assert config.integration_names == ("My PX", "Other")


def test_px_sends_the_key_as_basic_auth_user_with_an_empty_password():
    header = PX.credential.headers(PX_KEY)["Authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == PX_KEY + ":"
    assert CS.credential.headers(ACCESS_KEY) == {"accessKey": ACCESS_KEY}


@pytest.mark.parametrize("integrations, cs, px", [
    ({"Gainsight": False}, False, True),
    ({"Gainsight PX Cloud (Actions)": False}, True, False),
    ({"Actions Gainsight PX Cloud": False}, True, False),
    ({"All": False, "Gainsight PX Cloud (Actions)": True}, False, True),
    ({"All": False, "Actions Gainsight PX Cloud": {"option": 1}}, False, True),
    ({"All": False, "Gainsight": True}, True, False),
    ({"gainsight px cloud (actions)": False}, True, True),   # names are case-sensitive
    ({}, True, True),
])
def test_consent_names_per_destination(integrations, cs, px):
    event = {"integrations": integrations}
    assert enabled_for(event, CS.consent_names) is cs
    assert enabled_for(event, PX.consent_names) is px


@pytest.mark.parametrize("status, verdict", [
    (200, DELIVERED), (202, DELIVERED), (429, RETRY), (500, RETRY), (503, RETRY),
    (401, KEY_REJECTED), (403, KEY_REJECTED), (400, REJECTED), (404, REJECTED), (413, REJECTED)])
def test_answers_are_classified_for_every_event_of_the_request(status, verdict):
    assert classify_by_status(status, "", 3) == [verdict] * 3
