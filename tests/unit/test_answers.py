"""Every answer's kind and latency, recorded where the sender gets it, over real HTTP against the
sandbox; and what the sink's flush makes of them (counters, timeline)."""
import json
import random

import pytest

from tests.conftest import ACCESS_KEY, WRONG_KEY
from transforms.common import report_tally
from transforms.delivery.answers import AnswerLog, answers_of, latency_of
from transforms.delivery.destinations import gainsight_cs
from transforms.delivery.http_delivery import RateLimiter, RequestSender, RetryPolicy, make_session

CS = gainsight_cs.DESTINATION
BODY = json.dumps({"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m-1"})


@pytest.fixture
def local_tally():
    report_tally.reset()
    with report_tally.recording(True):
        yield
    report_tally.reset()


def sender_with_log(url, key=ACCESS_KEY, **policy):
    log = AnswerLog()
    policy = RetryPolicy(**{"max_retries": 2, "timeout_seconds": 5.0, **policy})
    sender = RequestSender(make_session(CS.credential.headers(key), 2), CS.url(url), policy,
                           RateLimiter(10_000), CS, secrets=(key,), sleep=lambda s: None,
                           rng=random.Random(7), answers=log)
    return sender, log


def flushed(log) -> dict:
    counts = {}

    def count(name, value=1):
        counts[name] = counts.get(name, 0) + value

    log.flush(count)
    return counts


def test_each_attempt_is_counted_by_its_answer(start_sandbox, local_tally):
    sandbox = start_sandbox(rate_503=0.5, rate_429=0.2, rate_400=0.1, retry_after_seconds=0, seed=3)
    sender, log = sender_with_log(sandbox.url)
    outcomes = [sender.send(BODY) for _ in range(30)]
    counts = flushed(log)
    stats = sandbox.stats()
    answers = answers_of(counts)
    assert answers.get("2xx", 0) == stats["accepted"]
    assert answers.get("5xx", 0) == stats["injected"]["503"]
    assert answers.get("429", 0) == stats["injected"]["429"]
    assert answers.get("400", 0) == stats["injected"]["400"]
    assert sum(answers.values()) == sum(outcome.attempts for outcome in outcomes)
    assert latency_of(counts)["requests"] == sum(answers.values())
    timeline = report_tally.snapshot()["per_second"]
    totals = {kind: sum(row.get(kind, 0) for row in timeline.values())
              for kind in ("accepted", "retried", "failed")}
    assert totals == {"accepted": stats["accepted"],
                      "retried": stats["injected"]["503"] + stats["injected"]["429"],
                      "failed": stats["injected"]["400"]}


def test_a_rejected_key_is_its_status(sandbox):
    sender, log = sender_with_log(sandbox.url, key=WRONG_KEY, max_retries=0)
    sender.send(BODY)
    assert answers_of(flushed(log)) == {"401": 1}


def test_a_timeout_is_counted_with_the_time_it_waited(start_sandbox):
    sandbox = start_sandbox(stall_rate=1.0, stall_seconds=1.0)
    sender, log = sender_with_log(sandbox.url, max_retries=0, timeout_seconds=0.3)
    sender.send(BODY)
    counts = flushed(log)
    assert answers_of(counts) == {"timeout": 1}
    latency = latency_of(counts)
    assert latency["histogram"]["300"] + latency["histogram"]["500"] == 1   # waited about 0.3 s


def test_a_dropped_connection_is_a_connection_error(start_sandbox):
    sandbox = start_sandbox(drop_rate=1.0)
    sender, log = sender_with_log(sandbox.url, max_retries=1)
    sender.send(BODY)
    assert answers_of(flushed(log)) == {"connection_error": 2}


def test_flush_counts_each_answer_once(sandbox):
    sender, log = sender_with_log(sandbox.url)
    sender.send(BODY)
    assert answers_of(flushed(log)) == {"2xx": 1}
    assert flushed(log) == {}


def test_the_timeline_is_kept_only_while_a_run_records_for_its_report(sandbox):
    report_tally.reset()
    sender, log = sender_with_log(sandbox.url)
    sender.send(BODY)
    flushed(log)
    assert report_tally.snapshot()["per_second"] == {}


def test_an_answer_lands_in_its_second(local_tally):
    log = AnswerLog(wall_clock=lambda: 1767000000.7)
    log.record("2xx", 0.004)
    log.record("5xx", 0.2)
    log.record("404", 0.01)
    flushed(log)
    assert report_tally.snapshot()["per_second"] == {
        "1767000000": {"accepted": 1, "retried": 1, "failed": 1}}
