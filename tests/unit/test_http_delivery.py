"""GainsightSender over real HTTP against the sandbox: retries, backoff, Retry-After, dead ends.

Sleeps are recorded instead of slept, so the tests see every delay the policy chose.
"""
import json
import random
import socket

import pytest

from tests.conftest import ACCESS_KEY, WRONG_KEY
from transforms.delivery.destinations import gainsight_cs
from transforms.delivery.http_delivery import RateLimiter, RequestSender, RetryPolicy, make_session, parse_retry_after

CS = gainsight_cs.DESTINATION


def session_for(key, connections):
    return make_session(CS.credential.headers(key), connections)

BODY = json.dumps({"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m-1"})


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def sender_for(url, key=ACCESS_KEY, sleeps=None, **policy):
    sleeps = Sleeps() if sleeps is None else sleeps
    limiter = RateLimiter(10_000, sleep=sleeps)
    policy = RetryPolicy(**{"max_retries": 3, "timeout_seconds": 5.0, **policy})
    return RequestSender(session_for(key, 4), CS.url(url), policy, limiter, CS, secrets=(key,),
                           sleep=sleeps, rng=random.Random(7)), sleeps


def test_delivers_the_body_as_is(sandbox):
    sender, sleeps = sender_for(sandbox.url)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (True, 200, 1)
    assert sandbox.received() == [json.loads(BODY)]
    assert sleeps == []


def test_5xx_retries_with_jittered_backoff_then_gives_up(start_sandbox):
    sandbox = start_sandbox(rate_503=1.0)
    sender, sleeps = sender_for(sandbox.url, max_retries=2, backoff_base_seconds=1.0)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, 503, 3)
    assert outcome.reason.startswith("gave up after 3 attempts: HTTP 503")
    assert sandbox.stats()["injected"]["503"] == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_429_waits_retry_after_and_holds_back_the_shard(start_sandbox):
    sandbox = start_sandbox(rate_429=1.0, retry_after_seconds=7)
    sender, sleeps = sender_for(sandbox.url, max_retries=1)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, 429, 2)
    retry_wait, limiter_wait = sleeps    # the retry waited Retry-After ...
    assert retry_wait == 7.0
    assert 6.5 < limiter_wait <= 7.0     # ... and the shard's limiter held every sender back


def test_retry_then_success_delivers_every_message_once_each(start_sandbox):
    sandbox = start_sandbox(rate_503=0.5, seed=3)
    sender, _ = sender_for(sandbox.url, max_retries=12)
    bodies = [json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"})
              for i in range(20)]
    outcomes = [sender.send(body) for body in bodies]
    assert all(outcome.delivered for outcome in outcomes)
    assert sorted(m["messageId"] for m in sandbox.received()) == sorted(f"m{i}" for i in range(20))
    assert sum(outcome.attempts - 1 for outcome in outcomes) == sandbox.stats()["injected"]["503"]


def test_400_is_permanent_at_once(start_sandbox):
    sandbox = start_sandbox(rate_400=1.0)
    sender, sleeps = sender_for(sandbox.url)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, 400, 1)
    assert outcome.reason.startswith("HTTP 400")
    assert sleeps == []


def test_wrong_key_is_permanent_names_the_flag_and_never_shows_a_key(sandbox):
    sender, _ = sender_for(sandbox.url, key=WRONG_KEY)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, 401, 1)
    assert "--access_key" in outcome.reason
    assert WRONG_KEY not in outcome.reason and ACCESS_KEY not in outcome.reason
    assert sandbox.received() == []


def test_repeated_key_rejections_stop_the_sender(sandbox):
    sender, _ = sender_for(sandbox.url, key=WRONG_KEY)
    outcomes = [sender.send(BODY) for _ in range(8)]
    assert [o.status for o in outcomes] == [401] * 5 + [None] * 3
    assert [o.key_rejected for o in outcomes] == [False] * 5 + [True] * 3
    assert "--access_key" in outcomes[-1].reason
    assert sandbox.stats()["unauthorized"] == 5


def test_retries_stop_when_they_would_outlast_the_budget(start_sandbox):
    sandbox = start_sandbox(rate_429=1.0, retry_after_seconds=40)
    now = [0.0]
    sleeps = Sleeps()

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    sender = RequestSender(session_for(ACCESS_KEY, 1), CS.url(sandbox.url),
                             RetryPolicy(max_retries=10, max_retry_seconds=100.0),
                             RateLimiter(10_000, clock=lambda: now[0], sleep=sleep), CS,
                             secrets=(ACCESS_KEY,), sleep=sleep, clock=lambda: now[0])
    outcome = sender.send(BODY)
    assert outcome.attempts == 3            # waits 40 s twice; a third wait would pass 100 s
    assert "longer than 100s" in outcome.reason and outcome.status == 429


def test_dropped_connections_are_retried(start_sandbox):
    sandbox = start_sandbox(drop_rate=1.0)
    sender, sleeps = sender_for(sandbox.url, max_retries=2)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.status, outcome.attempts) == (False, None, 3)
    assert "connection error" in outcome.reason
    assert len(sleeps) == 2


def test_connection_refused_is_retried_then_dead_lettered():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender, _ = sender_for(f"http://127.0.0.1:{port}", max_retries=1)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.attempts) == (False, 2)
    assert "connection error" in outcome.reason


def test_timeout_after_sending_is_retried_and_counted_ambiguous(start_sandbox):
    sandbox = start_sandbox(stall_rate=1.0, stall_seconds=1.0)
    sender, _ = sender_for(sandbox.url, max_retries=1, timeout_seconds=0.3)
    outcome = sender.send(BODY)
    assert (outcome.delivered, outcome.attempts, outcome.ambiguous_retries) == (False, 2, 1)
    assert "timed out" in outcome.reason


def test_rate_limiter_paces_calls_on_its_clock():
    now = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert sleeps == [0.25, 0.25, 0.25, 0.25]
    limiter.hold_off(3.0)
    limiter.acquire()
    assert sleeps[-1] == pytest.approx(3.0)


@pytest.mark.parametrize("value, seconds", [("5", 5.0), (" 0 ", 0.0), (None, None), ("soon", None),
                                            ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0)])
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=1445412480.0) == seconds


def test_an_answer_that_quotes_the_key_where_the_reason_is_cut_shows_none_of_it():
    """A receiver (a real HTTP server on loopback) that echoes the key so that the reason's cut
    (MAX_REASON_CHARS) falls inside it: the reason holds *** and no part of the key."""
    import http.server
    import threading

    from transforms.delivery.http_delivery import MAX_REASON_CHARS

    class EchoesTheKey(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's name)
            self.rfile.read(int(self.headers["Content-Length"]))
            body = ("x" * (MAX_REASON_CHARS - 10) + " " + self.headers["accessKey"]).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoesTheKey)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender, _ = sender_for(f"http://127.0.0.1:{server.server_port}")
        outcome = sender.send(BODY)
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.status == 400 and "***" in outcome.reason
    assert ACCESS_KEY[:8] not in outcome.reason
