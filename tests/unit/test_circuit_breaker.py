"""The circuit breaker on its own (plain threads, short real intervals) and in a sender
against a sandbox that is down, over real HTTP."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ACCESS_KEY
from transforms.delivery.circuit_breaker import OUTAGE, REACHABLE, CircuitBreaker, OutageTooLong
from transforms.delivery.destinations import gainsight_cs
from transforms.delivery.http_delivery import RateLimiter, RequestSender, RetryPolicy, make_session

CS = gainsight_cs.DESTINATION


def fast_breaker(**kwargs):
    return CircuitBreaker(**{"first_probe_seconds": 0.05, "max_probe_seconds": 0.2, **kwargs})


def test_stays_closed_while_answers_come_between_failures():
    breaker = fast_breaker(failures_to_open=3)
    for kind in (OUTAGE, OUTAGE, REACHABLE, OUTAGE, OUTAGE, REACHABLE):
        breaker.record(kind)
    assert not breaker.is_open and breaker.outages == 0


def test_opens_after_the_threshold_of_consecutive_failures():
    breaker = fast_breaker(failures_to_open=3)
    for _ in range(3):
        breaker.record(OUTAGE)
    assert breaker.is_open and breaker.outages == 1


def test_opens_when_every_attempt_failed_for_the_time_threshold():
    now = [0.0]
    breaker = fast_breaker(failures_to_open=100, open_after_seconds=10, clock=lambda: now[0])
    for moment in (0.0, 5.0, 9.0):
        now[0] = moment
        breaker.record(OUTAGE)
    assert not breaker.is_open
    now[0] = 10.5
    breaker.record(OUTAGE)
    assert breaker.is_open


def test_while_open_only_one_probe_goes_and_others_wait_for_it():
    breaker = fast_breaker(failures_to_open=1)
    breaker.record(OUTAGE)
    passed = []

    def attempt(n):
        breaker.before_attempt()
        passed.append(n)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not passed and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)            # several probe intervals: still only the probe may have passed
    assert len(passed) == 1
    breaker.record(REACHABLE)  # the probe succeeded: everyone goes
    for thread in threads:
        thread.join(10)
    assert sorted(passed) == [0, 1, 2, 3] and not breaker.is_open


def test_probe_intervals_grow_up_to_the_maximum():
    breaker = fast_breaker(failures_to_open=1, first_probe_seconds=0.04, max_probe_seconds=0.16)
    breaker.record(OUTAGE)
    waits = []
    for _ in range(4):
        started = time.monotonic()
        breaker.before_attempt()
        waits.append(time.monotonic() - started)
        breaker.record(OUTAGE)   # the probe failed
    assert waits[0] >= 0.03 and waits[1] >= 0.07 and waits[2] >= 0.15 and waits[3] >= 0.15


def test_gives_up_after_the_longest_outage_and_stays_given_up():
    breaker = fast_breaker(failures_to_open=1, max_outage_seconds=0.2)
    breaker.record(OUTAGE)
    started = time.monotonic()
    with pytest.raises(OutageTooLong):
        while True:
            breaker.before_attempt()
            breaker.record(OUTAGE)
    assert time.monotonic() - started >= 0.2 and breaker.gave_up
    with pytest.raises(OutageTooLong):
        breaker.before_attempt()


def test_outage_seconds_add_up_over_closed_outages():
    now = [0.0]
    breaker = fast_breaker(failures_to_open=1, clock=lambda: now[0])
    breaker.record(OUTAGE)
    now[0] = 7.0
    breaker.record(REACHABLE)
    assert (breaker.outages, breaker.open_seconds()) == (1, 7.0)


def test_a_sender_waits_out_an_outage_longer_than_its_retry_budget(start_sandbox):
    sandbox = start_sandbox(rate_503=1.0)
    breaker = fast_breaker()
    sender = RequestSender(make_session(CS.credential.headers(ACCESS_KEY), 4), CS.url(sandbox.url),
                           RetryPolicy(max_retries=1, backoff_base_seconds=0.01), RateLimiter(200),
                           CS, breaker=breaker)
    bodies = [json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": f"m{n}"})
              for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(sender.send, body) for body in bodies]
        deadline = time.monotonic() + 20
        while not breaker.is_open and time.monotonic() < deadline:
            time.sleep(0.02)
        assert breaker.is_open
        time.sleep(0.5)                       # longer than one request's budget of 2 attempts
        sandbox.set_faults()                  # the outage ends
        outcomes = [future.result(timeout=60) for future in futures]
    assert [outcome.delivered for outcome in outcomes] == [True] * 6
    assert sorted(message["messageId"] for message in sandbox.received()) == [f"m{n}" for n in range(6)]
    assert breaker.outages == 1 and not breaker.is_open


def test_a_sender_alone_trips_the_breaker_instead_of_dead_lettering(start_sandbox):
    sandbox = start_sandbox(rate_503=1.0)
    breaker = fast_breaker(max_outage_seconds=0.5)
    sender = RequestSender(make_session(CS.credential.headers(ACCESS_KEY), 1), CS.url(sandbox.url),
                           RetryPolicy(max_retries=1, backoff_base_seconds=0.01), RateLimiter(200),
                           CS, breaker=breaker)
    outcome = sender.send(json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": "m"}))
    assert outcome.outage_stopped and not outcome.delivered
    assert "--max_outage_minutes" in outcome.reason
    assert breaker.outages == 1 and sandbox.received() == []


def test_the_progress_line_shows_an_open_breaker_until_it_closes():
    import re

    from pipeline.progress import outage_now, progress_line
    breaker = fast_breaker(first_probe_seconds=30, max_probe_seconds=60)
    breaker.trip()
    since, next_probe = outage_now()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", since) and 0 < next_probe <= 30
    line = progress_line(10, {"read": 5}, 0, 10, outage=(since, next_probe))
    assert f"Gainsight unreachable since {since}, next probe in" in line
    breaker.record(REACHABLE)
    assert outage_now() is None


def test_a_stop_request_ends_the_wait_of_an_open_breaker_within_a_second():
    from transforms.delivery.circuit_breaker import Stopped
    breaker = fast_breaker(first_probe_seconds=60, max_probe_seconds=60)
    breaker.trip()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Stopped):
        breaker.before_attempt(stop.is_set)
    assert time.monotonic() - started < 5


def test_outage_seconds_stop_growing_once_the_breaker_gave_up():
    now = [0.0]
    breaker = fast_breaker(failures_to_open=1, max_outage_seconds=10, clock=lambda: now[0])
    breaker.record(OUTAGE)
    now[0] = 11.0
    with pytest.raises(OutageTooLong):
        breaker.before_attempt()
    now[0] = 500.0
    assert breaker.open_seconds() == 11.0 and breaker.gave_up and not breaker.is_open


def test_a_probe_that_never_reached_the_wire_lets_another_attempt_probe():
    breaker = fast_breaker(failures_to_open=1)
    breaker.record(OUTAGE)
    breaker.before_attempt()          # this attempt is the probe ...
    breaker.abandon()                 # ... and gave up before sending
    passed = threading.Event()
    threading.Thread(target=lambda: (breaker.before_attempt(), passed.set()), daemon=True).start()
    assert passed.wait(10)


def test_a_stop_request_ends_a_senders_backoff_and_leaves_the_event_unsent(start_sandbox):
    sandbox = start_sandbox(rate_503=1.0)
    stop = threading.Event()
    sender = RequestSender(make_session(CS.credential.headers(ACCESS_KEY), 1), CS.url(sandbox.url),
                           RetryPolicy(max_retries=5, backoff_base_seconds=30, backoff_max_seconds=30),
                           RateLimiter(200), CS, should_stop=stop.is_set, rng=__import__("random").Random(1))
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    outcome = sender.send(json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": "m"}))
    assert outcome.stopped and not outcome.delivered and time.monotonic() - started < 15
