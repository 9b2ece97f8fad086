"""The sandbox receiver over real HTTP (one subprocess per test), and its fault logic."""

import dataclasses
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import EVENT_PATH, OUTCOMES, FaultConfig, FaultPicker, SandboxProcess

KEY = "sk-sandbox-test-5f0c2e9a71"
TIMEOUT = 30.0  # generous: a busy machine must not fail the suite
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "messageId": "m-1",
    "properties": {"total": 12.5, "items": [1, 2], "note": "café ✓", "gift": None},
    "timestamp": "2026-01-01T00:00:00.000Z",
}


def post(sandbox, body=TRACK, *, key=KEY, timeout=TIMEOUT):
    headers = {} if key is None else {"accessKey": key}
    if isinstance(body, bytes):
        return requests.post(sandbox.url + EVENT_PATH, headers=headers, data=body, timeout=timeout)
    return requests.post(sandbox.url + EVENT_PATH, headers=headers, json=body, timeout=timeout)


def post_ignoring_failure(sandbox):
    try:
        post(sandbox, timeout=2)
    except requests.RequestException:
        pass


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def sandbox(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path) as running:
        yield running


# --- the event endpoint -------------------------------------------------------------


def test_accepted_message_is_answered_and_recorded_exactly(sandbox):
    response = post(sandbox)

    assert response.status_code == 200
    assert response.json() == {"result": True}
    assert sandbox.received() == [TRACK]


def test_record_keeps_arrival_order_of_many_messages(sandbox):
    messages = [{"type": "identify", "userId": f"u-{n}"} for n in range(20)]
    for message in messages:
        assert post(sandbox, message).status_code == 200

    assert sandbox.received() == messages


def test_wrong_key_is_401_without_echo_and_not_recorded(sandbox):
    response = post(sandbox, key="not-the-key-0451")

    assert response.status_code == 401
    assert response.json()["result"] is False
    assert "not-the-key-0451" not in response.text and KEY not in response.text
    assert sandbox.received() == []


def test_missing_key_is_401_and_not_recorded(sandbox):
    response = post(sandbox, key=None)

    assert response.status_code == 401
    assert "accessKey" in response.json()["error"]
    assert sandbox.received() == []


def test_body_that_is_not_json_is_400(sandbox):
    response = post(sandbox, b"type=track")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert sandbox.received() == []


def test_json_array_body_is_400(sandbox):
    response = post(sandbox, b'[{"type": "track"}]')

    assert response.status_code == 400
    assert "JSON object" in response.json()["error"] and "array" in response.json()["error"]
    assert sandbox.received() == []


def test_auth_is_checked_before_faults(tmp_path):
    with SandboxProcess(KEY, FaultConfig(rate_503=1.0), directory=tmp_path) as sandbox:
        assert post(sandbox, key="wrong").status_code == 401
        assert post(sandbox, b"{").status_code == 400
        assert sandbox.stats()["injected"]["503"] == 0


# --- injected faults ----------------------------------------------------------------


def test_503_at_rate_one_is_answered_and_not_recorded(tmp_path):
    with SandboxProcess(KEY, FaultConfig(rate_503=1.0), directory=tmp_path) as sandbox:
        statuses = [post(sandbox).status_code for _ in range(5)]

        assert statuses == [503] * 5
        assert sandbox.received() == []


def test_429_at_rate_one_carries_retry_after(tmp_path):
    faults = FaultConfig(rate_429=1.0, retry_after_seconds=7)
    with SandboxProcess(KEY, faults, directory=tmp_path) as sandbox:
        response = post(sandbox)

        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert sandbox.received() == []


def test_injected_400_is_answered_and_not_recorded(tmp_path):
    with SandboxProcess(KEY, FaultConfig(rate_400=1.0), directory=tmp_path) as sandbox:
        assert post(sandbox).status_code == 400
        assert sandbox.received() == []
        assert sandbox.stats()["injected"]["400"] == 1


def test_drop_closes_connection_without_response(tmp_path):
    with SandboxProcess(KEY, FaultConfig(drop_rate=1.0), directory=tmp_path) as sandbox:
        with requests.Session() as session:
            for _ in range(2):  # a fresh and a reused connection both see it
                with pytest.raises(requests.ConnectionError):
                    session.post(sandbox.url + EVENT_PATH, headers={"accessKey": KEY},
                                 json=TRACK, timeout=TIMEOUT)

        assert sandbox.received() == []
        assert sandbox.stats()["injected"]["drop"] == 2


def test_latency_delays_every_answer_and_overlapping_requests_are_counted(tmp_path):
    with SandboxProcess(KEY, FaultConfig(latency_ms=300), directory=tmp_path) as sandbox:

        def timed_post(_):
            start = time.monotonic()
            status = post(sandbox).status_code
            return status, time.monotonic() - start

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(timed_post, range(4)))

        assert [status for status, _ in results] == [200] * 4
        assert min(elapsed for _, elapsed in results) >= 0.3
        assert sandbox.stats()["max_in_flight"] >= 2


def test_stall_is_a_slow_success_recorded_even_when_client_gives_up(tmp_path):
    faults = FaultConfig(stall_rate=1.0, stall_seconds=0.6)
    with SandboxProcess(KEY, faults, directory=tmp_path) as sandbox:
        with pytest.raises(requests.Timeout):
            post(sandbox, {"type": "track", "messageId": "gave-up"}, timeout=0.2)
        assert sandbox.received() == []  # still stalling

        wait_until(lambda: sandbox.received() == [{"type": "track", "messageId": "gave-up"}])

        start = time.monotonic()
        assert post(sandbox).status_code == 200
        assert time.monotonic() - start >= 0.6
        stats = sandbox.stats()
        assert stats["injected"]["stall"] == 2 and stats["accepted"] == 2


def test_faults_can_be_replaced_at_runtime(sandbox):
    assert post(sandbox).status_code == 200

    assert sandbox.set_faults(rate_503=1.0)["rate_503"] == 1.0
    assert post(sandbox).status_code == 503

    with pytest.raises(ValueError, match="rate_429"):
        sandbox.set_faults(rate_429=-1)
    assert post(sandbox).status_code == 503  # invalid update left the config alone

    sandbox.set_faults()
    assert post(sandbox).status_code == 200
    assert len(sandbox.received()) == 2


def test_fault_update_with_unknown_field_is_400(sandbox):
    response = requests.post(
        sandbox.url + "/_sandbox/faults", json={"rate_999": 1}, timeout=TIMEOUT
    )

    assert response.status_code == 400
    assert "rate_999" in response.json()["error"]


# --- stats and lifecycle ------------------------------------------------------------


def test_stats_count_every_kind_of_answer(sandbox):
    for _ in range(3):
        post(sandbox)
    post(sandbox, key="wrong")
    post(sandbox, key=None)
    post(sandbox, b"not json")
    sandbox.set_faults(rate_503=1.0)
    post(sandbox)
    post(sandbox)

    stats = sandbox.stats()

    assert stats["accepted"] == 3
    assert stats["unauthorized"] == 2
    assert stats["bad_request"] == 1
    assert stats["injected"] == {"503": 2, "429": 0, "drop": 0, "stall": 0, "400": 0}
    assert stats["key_checks"] == 0
    assert stats["outage"] == {"503": 0, "drop": 0, "active": False,
                               "started_at": None, "ends_at": None}
    assert sum(stats["arrivals_per_second"].values()) == 5
    assert sum(stats["accepted_per_second"].values()) == 3
    assert all(abs(int(second) - time.time()) < 60 for second in stats["arrivals_per_second"])
    assert stats["max_in_flight"] == 1


def test_shutdown_flushes_record_and_exits_cleanly(tmp_path):
    messages = [{"type": "group", "groupId": f"g-{n}"} for n in range(50)]
    with SandboxProcess(KEY, directory=tmp_path) as sandbox:
        for message in messages:
            post(sandbox, message)

    assert sandbox.returncode == 0
    lines = sandbox.record_path.read_text().splitlines()
    assert lines[-1] == '{"type":"group","groupId":"g-49"}'
    assert len(lines) == len(messages)


def test_shutdown_does_not_wait_for_a_long_stall(tmp_path):
    faults = FaultConfig(stall_rate=1.0, stall_seconds=30)
    with SandboxProcess(KEY, faults, directory=tmp_path) as sandbox:
        stalled = threading.Thread(target=post_ignoring_failure, args=(sandbox,))
        stalled.start()
        wait_until(lambda: sandbox.stats()["injected"]["stall"] == 1)
        start = time.monotonic()
    stalled.join(timeout=TIMEOUT)

    assert time.monotonic() - start < 20  # well short of the 30 s stall, with room for a busy machine
    assert sandbox.returncode == 0
    assert "Traceback" not in sandbox.log_path.read_text()


def test_access_key_never_leaves_the_process(tmp_path):
    key = "sk-LEAKCHECK-9d41b7e2c0"
    with SandboxProcess(key, FaultConfig(rate_429=0.3, seed=1), directory=tmp_path) as sandbox:
        command_line = Path(f"/proc/{sandbox.pid}/cmdline").read_bytes()
        answers = [post(sandbox, key=key).text for _ in range(10)]
        answers += [post(sandbox, key=key + "x").text, post(sandbox, b"[]", key=key).text]
        answers.append(requests.get(sandbox.url + "/_sandbox/stats", timeout=TIMEOUT).text)
        assert sandbox.received()

    log = sandbox.log_path.read_text()
    assert "sandbox listening on http://127.0.0.1:" in log
    assert key.encode() not in command_line
    for text in [log, sandbox.record_path.read_text(), *answers]:
        assert key not in text


@pytest.mark.parametrize(
    ("arguments", "environment_key", "expected_error"),
    [
        (["--host", "0.0.0.0"], KEY, "loopback"),
        (["--host", "localhost.example"], KEY, "loopback"),
        ([], None, "access key is required"),
        (["--rate_503", "0.7", "--drop_rate", "0.7"], KEY, "drop_rate"),
    ],
)
def test_cli_refuses_bad_options_without_printing_the_key(arguments, environment_key,
                                                          expected_error):
    environment = {name: value for name, value in os.environ.items()
                   if name != "GAINSIGHT_ACCESS_KEY"}
    if environment_key is not None:
        environment["GAINSIGHT_ACCESS_KEY"] = environment_key
    finished = subprocess.run([sys.executable, "-m", "sandbox", "--port", "0", *arguments],
                              env=environment, cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=120)

    assert finished.returncode == 2
    assert expected_error in finished.stderr
    assert KEY not in finished.stdout + finished.stderr


# --- FaultConfig and FaultPicker ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_503", -0.1),
        ("rate_429", 1.5),
        ("drop_rate", math.nan),
        ("stall_rate", "0.1"),
        ("rate_400", True),
        ("latency_ms", -1),
        ("stall_seconds", math.inf),
        ("retry_after_seconds", 1.5),
        ("retry_after_seconds", -1),
        ("seed", "seven"),
    ],
)
def test_fault_config_rejects_invalid_field_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        FaultConfig(**{field: value})


def test_fault_config_rates_must_sum_to_at_most_one():
    with pytest.raises(ValueError, match="rate_503 .*rate_429.*sum to <= 1"):
        FaultConfig(rate_503=0.6, rate_429=0.5)

    assert FaultConfig(rate_503=0.1, rate_429=0.2, rate_400=0.7).rate("400") == 0.7


def test_fault_config_from_mapping_names_unknown_fields_and_defaults_the_rest():
    with pytest.raises(ValueError, match="latency"):
        FaultConfig.from_mapping({"latency": 5})
    with pytest.raises(ValueError, match="JSON object"):
        FaultConfig.from_mapping([("rate_503", 1)])

    assert FaultConfig.from_mapping({"rate_503": 1}) == FaultConfig(rate_503=1)


def test_fault_picker_is_deterministic_for_a_seed():
    config = FaultConfig(rate_503=0.2, rate_429=0.2, drop_rate=0.2, seed=42)

    assert _picks(config, 1000) == _picks(config, 1000)
    assert _picks(config, 1000) != _picks(dataclasses.replace(config, seed=43), 1000)


def test_fault_picker_honours_rates_over_10000_picks():
    config = FaultConfig(rate_503=0.1, rate_429=0.2, drop_rate=0.05, stall_rate=0.15,
                         rate_400=0.1, seed=5)

    counts = Counter(_picks(config, 10_000))

    expected = {"ok": 0.4, "503": 0.1, "429": 0.2, "drop": 0.05, "stall": 0.15, "400": 0.1}
    for outcome, rate in expected.items():
        assert abs(counts[outcome] / 10_000 - rate) < 0.02, outcome


def test_fault_picker_rate_one_and_zero_are_exact():
    assert set(_picks(FaultConfig(stall_rate=1.0), 1000)) == {"stall"}
    assert set(_picks(FaultConfig(), 1000)) == {"ok"}


@settings(max_examples=50, deadline=None)
@given(rates=st.lists(st.floats(0, 0.2), min_size=5, max_size=5), seed=st.integers())
def test_fault_picker_only_picks_outcomes_with_a_positive_rate(rates, seed):
    names = ["rate_503", "rate_429", "drop_rate", "stall_rate", "rate_400"]
    config = FaultConfig(**dict(zip(names, rates)), seed=seed)

    picked = set(_picks(config, 200))

    assert picked <= {"ok"} | {fault for fault in OUTCOMES[1:] if config.rate(fault) > 0}


def _picks(config, count):
    picker = FaultPicker(config)
    return [picker.pick() for _ in range(count)]


def test_accepted_at_gives_each_message_its_first_acceptance_time(tmp_path):
    import time as _time
    from sandbox.process import SandboxProcess
    from sandbox.faults import FaultConfig
    key = "7b1f8e2a-0c3d-4e5f-9a8b-1c2d3e4f5a6b"
    with SandboxProcess(key, FaultConfig(), directory=tmp_path) as sandbox:
        before = _time.time()
        for message_id in ("a", "b", "a"):
            requests.post(f"{sandbox.url}/clickstream/segmentio/event", headers={"accessKey": key},
                          json={"type": "track", "messageId": message_id}, timeout=5)
        after = _time.time()
        times = sandbox.accepted_at()
    assert sorted(times) == ["a", "b"]
    assert before <= times["a"] <= times["b"] <= after
