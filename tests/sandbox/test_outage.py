"""The sandbox's outage window (--outage_after_seconds, --outage_seconds) over real HTTP:
every request inside it is refused with a 503 or a dropped connection, before auth."""

import base64
import math
import time

import pytest
import requests

from sandbox import FaultConfig, OutageWindow, SandboxProcess

KEY = "sk-sandbox-outage-3e8a51c0d7"
PX_KEY = "AP-SANDBOXOUTAGE-4b2d"
REQUEST_TIMEOUT = 2.0
CLOCK_SLACK = 0.05  # seconds: this process's and the sandbox's wall clocks are the same clock


def attempt(sandbox, message, *, headers=None, body=None):
    """(status or "reset", unix time sent, unix time answered) for one fresh connection."""
    headers = {"accessKey": KEY} if headers is None else headers
    sent = time.time()
    try:
        response = requests.post(sandbox.event_url, headers=headers,
                                 json=message if body is None else None, data=body,
                                 timeout=REQUEST_TIMEOUT)
        outcome = response.status_code
    except requests.ConnectionError:
        outcome = "reset"
    return outcome, sent, time.time()


def test_window_starts_and_ends_at_the_configured_times_and_refuses_every_request(tmp_path):
    faults = FaultConfig(outage_after_seconds=1, outage_seconds=2)
    before_start = time.time()
    with SandboxProcess(KEY, faults, directory=tmp_path) as sandbox:
        after_start = time.time()
        window = sandbox.stats()["outage"]
        attempts = []  # (messageId, outcome, sent, answered)

        def send(until, deadline):
            while True:
                message_id = f"m-{len(attempts)}"
                outcome, sent, answered = attempt(sandbox, {"type": "track",
                                                            "messageId": message_id})
                attempts.append((message_id, outcome, sent, answered))
                if until(outcome):
                    return
                assert time.time() < deadline, "the outage did not start or end in time"
                time.sleep(0.02)

        send(lambda outcome: outcome != 200, deadline=after_start + 10)  # until it starts
        during = sandbox.stats()["outage"]
        send(lambda outcome: outcome == 200, deadline=after_start + 15)  # until it ends
        for _ in range(5):
            send(lambda outcome: True, deadline=math.inf)
        received = sandbox.received()
        stats = sandbox.stats()

    # The window is timed from the sandbox's start: 1 s after, for 2 s.
    assert window["active"] is False and window["503"] == window["drop"] == 0
    started_at, ends_at = window["started_at"], window["ends_at"]
    assert before_start + 1 - CLOCK_SLACK <= started_at <= after_start + 1 + CLOCK_SLACK
    assert ends_at - started_at == pytest.approx(2.0)
    assert during["active"] is True
    assert (during["started_at"], during["ends_at"]) == (started_at, ends_at)
    assert stats["outage"]["active"] is False

    # Message by message: each answer matches where it fell relative to the window.
    outcomes = [outcome for _, outcome, _, _ in attempts]
    first_failure = outcomes.index(next(o for o in outcomes if o != 200))
    last_failure = max(n for n, outcome in enumerate(outcomes) if outcome != 200)
    assert set(outcomes[:first_failure]) <= {200}
    assert set(outcomes[first_failure:last_failure + 1]) <= {503, "reset"}, outcomes
    assert outcomes[last_failure + 1:] == [200] * 6
    assert {503, "reset"} <= set(outcomes[first_failure:last_failure + 1])  # both kinds
    for message_id, outcome, sent, answered in attempts:
        if answered < started_at - CLOCK_SLACK or sent > ends_at + CLOCK_SLACK:
            assert outcome == 200, (message_id, outcome, sent - started_at)
        elif sent > started_at + CLOCK_SLACK and answered < ends_at - CLOCK_SLACK:
            assert outcome in (503, "reset"), (message_id, outcome, sent - started_at)
    refused = outcomes[first_failure:last_failure + 1]
    assert refused[0] == 503
    assert all(a != b for a, b in zip(refused, refused[1:]))  # 503, reset, 503, ... in turn

    # Only the accepted ones were recorded, in order; the stats count the rest.
    assert received == [{"type": "track", "messageId": message_id}
                        for message_id, outcome, _, _ in attempts if outcome == 200]
    assert stats["accepted"] == len(received)
    assert stats["outage"]["503"] == refused.count(503)
    assert stats["outage"]["drop"] == refused.count("reset")
    assert stats["injected"] == {"503": 0, "429": 0, "drop": 0, "stall": 0, "400": 0}
    assert sum(stats["arrivals_per_second"].values()) == len(attempts)
    assert sum(stats["accepted_per_second"].values()) == len(received)


def test_outage_answers_before_auth_json_and_the_key_check_and_alternates(tmp_path):
    with SandboxProcess(PX_KEY, directory=tmp_path, destination="gainsight-px") as px:
        good = {"Authorization": "Basic " + base64.b64encode(f"{PX_KEY}:".encode()).decode()}
        assert px.set_faults(outage_seconds=60)["outage_seconds"] == 60  # starts now

        outcomes = [
            attempt(px, {"type": "page"}, headers={"Authorization": "Basic d3Jvbmc6"})[0],
            attempt(px, {"type": "page"}, headers={})[0],
            attempt(px, None, headers=good, body=b"[]")[0],  # the key check
            attempt(px, None, headers=good, body=b"not json")[0],
            attempt(px, {"type": "page", "messageId": "lost"}, headers=good)[0],
        ]
        during = px.stats()

        px.set_faults()  # the outage is over
        after = [attempt(px, None, headers=good, body=b"[]")[0],
                 attempt(px, {"type": "page", "messageId": "kept"}, headers=good)[0]]
        received = px.received()
        stats = px.stats()

    assert outcomes == [503, "reset", 503, "reset", 503]
    assert during["outage"]["active"] is True
    assert during["outage"]["503"] == 3 and during["outage"]["drop"] == 2
    assert during["unauthorized"] == during["bad_request"] == during["key_checks"] == 0
    assert after == [400, 200]
    assert received == [{"type": "page", "messageId": "kept"}]
    assert stats["key_checks"] == 1
    assert stats["outage"] == {"503": 3, "drop": 2, "active": False,
                               "started_at": None, "ends_at": None}


def test_window_is_timed_from_the_fault_update_that_set_it(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path) as sandbox:
        time.sleep(1.5)  # longer than outage_after_seconds below, counted from the start
        before_update = time.time()
        sandbox.set_faults(outage_after_seconds=1, outage_seconds=60)
        first = attempt(sandbox, {"type": "identify", "messageId": "early"})
        window = sandbox.stats()["outage"]

        assert first[0] == 200 or first[1] > window["started_at"] - CLOCK_SLACK
        assert before_update + 1 - CLOCK_SLACK <= window["started_at"] <= time.time() + 1
        assert window["ends_at"] - window["started_at"] == pytest.approx(60)

        sandbox.set_faults(outage_after_seconds=1, outage_seconds=60)  # restarts the clock
        assert sandbox.stats()["outage"]["started_at"] > window["started_at"]
        sandbox.set_faults()
        assert sandbox.stats()["outage"]["started_at"] is None


def test_random_faults_resume_after_the_outage_with_their_own_sequence(tmp_path):
    """The outage draws nothing from the seeded picker: the sequence after it is the
    sequence a run without the outage would have had."""
    faults = FaultConfig(rate_503=0.5, seed=11)
    with SandboxProcess(KEY, faults, directory=tmp_path) as sandbox:
        without = [attempt(sandbox, {"type": "track"})[0] for _ in range(12)]
        sandbox.set_faults(rate_503=0.5, seed=11, outage_seconds=30)
        refused = [attempt(sandbox, {"type": "track"})[0] for _ in range(4)]
        sandbox.set_faults(rate_503=0.5, seed=11)
        with_outage_first = [attempt(sandbox, {"type": "track"})[0] for _ in range(12)]

    assert refused == [503, "reset", 503, "reset"]
    assert with_outage_first == without
    assert set(without) == {200, 503}


def test_no_outage_configured_by_default(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path) as sandbox:
        outcomes = [attempt(sandbox, {"type": "track"})[0] for _ in range(3)]
        outage = sandbox.stats()["outage"]

    assert outcomes == [200] * 3
    assert outage == {"503": 0, "drop": 0, "active": False, "started_at": None, "ends_at": None}


@pytest.mark.parametrize(
    ("field", "value"),
    [("outage_seconds", -1), ("outage_after_seconds", -0.5), ("outage_seconds", math.inf),
     ("outage_after_seconds", "5"), ("outage_seconds", True)],
)
def test_fault_config_rejects_invalid_outage_field_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        FaultConfig(**{field: value})


def test_outage_window_bounds_are_half_open_and_zero_seconds_is_none():
    window = OutageWindow(FaultConfig(outage_after_seconds=2, outage_seconds=3), now=10.0)
    none = OutageWindow(FaultConfig(outage_after_seconds=2), now=10.0)

    answers = [window.answer(t) for t in (11.999, 12.0, 13.0, 14.0, 14.999, 15.0, 99.0)]

    assert answers == [None, "503", "drop", "503", "drop", None, None]
    assert (window.start, window.end, window.configured) == (12.0, 15.0, True)
    assert none.configured is False and none.answer(12.0) is None
