"""The sandbox in PX mode (python -m sandbox --destination gainsight-px) over real HTTP:
Basic auth at /rte/segmentio/v1/push, Segment's [] key check, and each mode's path alone."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sandbox import EVENT_PATH, PX_EVENT_PATH, FaultConfig, SandboxProcess

KEY = "AP-SANDBOXPXTEST-7c1e93b2-2"
TIMEOUT = 5.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRACK = {"type": "track", "event": "Report Viewed", "userId": "u-1", "messageId": "px-1",
         "properties": {"report": "churn", "note": "café ✓", "n": None}}


def basic(user, password=""):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def px_post(sandbox, body=TRACK, *, key=KEY, headers=None, path=PX_EVENT_PATH):
    """POST with Authorization: Basic base64("KEY:") (no header when key is None)."""
    headers = dict(headers or {})
    if key is not None:
        headers["Authorization"] = basic(key)
    if isinstance(body, bytes):
        return requests.post(sandbox.url + path, headers=headers, data=body, timeout=TIMEOUT)
    return requests.post(sandbox.url + path, headers=headers, json=body, timeout=TIMEOUT)


@pytest.fixture
def px(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-px") as running:
        yield running


# --- events ---------------------------------------------------------------------------


def test_event_with_basic_auth_is_answered_and_recorded_exactly(px):
    response = px_post(px)

    assert response.status_code == 200
    assert response.json() == {"result": True}
    assert px.received() == [TRACK]
    assert px.event_url == px.url + "/rte/segmentio/v1/push"


def test_requests_basic_auth_tuple_is_the_same_credential(px):
    response = requests.post(px.event_url, auth=(KEY, ""), json=TRACK, timeout=TIMEOUT)

    assert response.status_code == 200
    assert px.received() == [TRACK]


def test_every_call_type_is_recorded_in_arrival_order(px):
    messages = [{"type": kind, "messageId": f"px-{n}", "userId": "u-2"}
                for n, kind in enumerate(["identify", "group", "track", "page"] * 3)]
    for message in messages:
        assert px_post(px, message).status_code == 200

    assert px.received() == messages
    stats = px.stats()
    assert stats["accepted"] == 12 and stats["key_checks"] == 0 and stats["unauthorized"] == 0


@pytest.mark.parametrize(
    ("authorization", "expected_error"),
    [
        (None, "missing Authorization"),
        (basic("AP-not-the-key-0451"), "invalid API key"),
        (basic(KEY, "a-password"), "invalid API key"),  # the password must be empty
        (basic(KEY + "x"), "invalid API key"),
        (basic(KEY[:-1]), "invalid API key"),
        ("Bearer " + KEY, "Basic"),
        ("Basic !!not-base64!!", "Basic"),
        ("Basic", "Basic"),
        (KEY, "Basic"),
        ("Basic " + base64.b64encode(KEY.encode()).decode(), "Basic"),  # no colon
    ],
)
def test_missing_or_wrong_credential_is_401_without_echo_and_not_recorded(
    px, authorization, expected_error
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = px_post(px, key=None, headers=headers)

    assert response.status_code == 401
    assert response.json()["result"] is False
    assert expected_error in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert KEY not in response.text and "not-the-key" not in response.text
    assert px.received() == []
    assert px.stats()["unauthorized"] == 1


def test_classic_access_key_header_is_not_a_px_credential(px):
    response = px_post(px, key=None, headers={"accessKey": KEY})

    assert response.status_code == 401
    assert px.received() == []


# --- Segment's key check ----------------------------------------------------------------


def test_key_check_with_valid_key_is_400_and_neither_recorded_nor_accepted(px):
    response = px_post(px, b"[]")

    assert response.status_code == 400
    assert response.json()["result"] is False
    assert "valid" in response.json()["error"]
    assert px.received() == []
    stats = px.stats()
    assert stats["key_checks"] == 1
    assert stats["accepted"] == 0 and stats["bad_request"] == 0
    assert sum(stats["arrivals_per_second"].values()) == 0


def test_key_check_with_invalid_or_missing_key_is_401(px):
    assert px_post(px, b"[]", key="AP-wrong-key").status_code == 401
    assert px_post(px, b"[]", key=None).status_code == 401

    stats = px.stats()
    assert stats["key_checks"] == 0 and stats["unauthorized"] == 2
    assert px.received() == []


@pytest.mark.parametrize(
    ("body", "expected_error"),
    [
        (b'[{"type": "track"}]', "array"),
        (b'"track"', "string"),
        (b"null", "null"),
        (b"{", "not valid JSON"),
    ],
)
def test_other_bodies_that_are_not_one_object_are_400_bad_request(px, body, expected_error):
    response = px_post(px, body)

    assert response.status_code == 400
    assert expected_error in response.json()["error"]
    stats = px.stats()
    assert stats["bad_request"] == 1 and stats["key_checks"] == 0
    assert px.received() == []


def test_key_check_is_not_subject_to_random_faults(tmp_path):
    faults = FaultConfig(rate_503=1.0)
    with SandboxProcess(KEY, faults, directory=tmp_path, destination="gainsight-px") as px:
        assert px_post(px, b"[]").status_code == 400
        assert px_post(px).status_code == 503
        stats = px.stats()

    assert stats["key_checks"] == 1 and stats["injected"]["503"] == 1


def test_random_faults_apply_to_px_events_as_to_classic_ones(tmp_path):
    faults = FaultConfig(rate_429=1.0, retry_after_seconds=4)
    with SandboxProcess(KEY, faults, directory=tmp_path, destination="gainsight-px") as px:
        response = px_post(px)
        px.set_faults()
        accepted = px_post(px, {"type": "page", "messageId": "px-after"})

        assert response.status_code == 429 and response.headers["Retry-After"] == "4"
        assert accepted.status_code == 200
        assert px.received() == [{"type": "page", "messageId": "px-after"}]


def test_key_check_in_classic_mode_is_an_ordinary_bad_request(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path) as classic:
        response = requests.post(classic.event_url, headers={"accessKey": KEY}, data=b"[]",
                                 timeout=TIMEOUT)

        assert response.status_code == 400
        stats = classic.stats()
        assert stats["bad_request"] == 1 and stats["key_checks"] == 0


# --- each mode serves its own path only ---------------------------------------------------


def test_px_mode_does_not_serve_the_classic_path(px):
    response = requests.post(px.url + EVENT_PATH, headers={"accessKey": KEY}, json=TRACK,
                             timeout=TIMEOUT)
    with_basic = px_post(px, path=EVENT_PATH)

    assert response.status_code == 404 and with_basic.status_code == 404
    assert px.received() == []
    assert px.stats()["accepted"] == 0


def test_classic_mode_does_not_serve_the_px_path(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path) as classic:
        response = px_post(classic)
        accepted = requests.post(classic.url + EVENT_PATH, headers={"accessKey": KEY},
                                 json=TRACK, timeout=TIMEOUT)

        assert response.status_code == 404
        assert accepted.status_code == 200
        assert classic.event_url == classic.url + EVENT_PATH
        assert classic.received() == [TRACK]


# --- the process and the CLI ---------------------------------------------------------------


def test_px_key_travels_in_its_own_variable_and_never_leaves_the_process(tmp_path):
    with SandboxProcess(KEY, FaultConfig(rate_503=0.3, seed=2), directory=tmp_path,
                        destination="gainsight-px") as px:
        command_line = Path(f"/proc/{px.pid}/cmdline").read_bytes()
        environment = Path(f"/proc/{px.pid}/environ").read_bytes().split(b"\0")
        answers = [px_post(px, {"type": "track", "messageId": f"m{n}"}).text for n in range(10)]
        answers += [px_post(px, key=KEY + "x").text, px_post(px, b"[]").text,
                    px_post(px, b"[1]").text]
        answers.append(requests.get(px.url + "/_sandbox/stats", timeout=TIMEOUT).text)
        assert px.received()

    log = px.log_path.read_text()
    assert "sandbox (gainsight-px) listening on http://127.0.0.1:" in log
    assert KEY.encode() not in command_line
    assert b"--destination\0gainsight-px" in command_line
    assert f"GAINSIGHT_PX_API_KEY={KEY}".encode() in environment
    for text in [log, px.record_path.read_text(), *answers]:
        assert KEY not in text


def test_sandbox_process_refuses_an_unknown_destination():
    with pytest.raises(ValueError, match="gainsight-px"):
        SandboxProcess(KEY, destination="gainsight-cs")


@pytest.mark.parametrize(
    ("arguments", "environment_keys", "expected_error"),
    [
        (["--destination", "gainsight-px"], {"GAINSIGHT_ACCESS_KEY": KEY}, "GAINSIGHT_PX_API_KEY"),
        (["--destination", "px"], {"GAINSIGHT_PX_API_KEY": KEY}, "--destination"),
        (["--outage_seconds", "-1"], {"GAINSIGHT_ACCESS_KEY": KEY}, "outage_seconds"),
        (["--outage_after_seconds", "nan"], {"GAINSIGHT_ACCESS_KEY": KEY}, "outage_after"),
    ],
)
def test_cli_refuses_bad_destination_options_without_printing_the_key(
    arguments, environment_keys, expected_error
):
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("GAINSIGHT_ACCESS_KEY", "GAINSIGHT_PX_API_KEY")}
    finished = subprocess.run([sys.executable, "-m", "sandbox", "--port", "0", *arguments],
                              env={**environment, **environment_keys}, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=20)

    assert finished.returncode == 2
    assert expected_error in finished.stderr
    assert KEY not in finished.stdout + finished.stderr
