"""The destination's key check, made once before any data is read (Gainsight PX: POST `[]`;
a check with its own path, such as a one-record query, posts there under the base URL).

    check_key(destination, base_url, key, policy)  # -> KeyCheckResult(verdict="valid", detail="HTTP 400")

Verdicts: "valid" (a valid status, or a 2xx), "rejected" (401/403: the key is wrong), or
"unreachable" (no answer, a 5xx or 429 after the retry policy's attempts, or an answer that
says neither). The check goes through the same RequestSender as every request (retries,
backoff, redaction), with the check's body and its own reading of the answer. Plain Python; the
CLI turns the verdict into an exit code.
"""
import dataclasses
import functools
import random
import time

from transforms.delivery.destinations.base import DELIVERED, REJECTED as REFUSED, RETRY, Call, Destination, KeyCheck
from transforms.delivery.http_delivery import RateLimiter, RequestSender, RetryPolicy, is_retryable, make_session, secret_forms

VALID, REJECTED, UNREACHABLE = "valid", "rejected", "unreachable"
_CHECKS_PER_SECOND = 10.0   # one request at a time; the limiter only paces its retries


@dataclasses.dataclass(frozen=True)
class KeyCheckResult:
    verdict: str
    detail: str   # what was seen, never the key


def classify_key_check(check: KeyCheck, status: int, text: str, events: int) -> list[str]:
    """An answer to the check: its valid statuses (or a 2xx) settle it, 429/5xx are retried,
    anything else (the rejected statuses included) ends it.

    >>> check = KeyCheck(body=b"[]", valid_statuses=(400,))
    >>> classify_key_check(check, 400, "", 1), classify_key_check(check, 503, "", 1), classify_key_check(check, 401, "", 1)
    (['delivered'], ['retry'], ['rejected'])
    """
    if status in check.valid_statuses or 200 <= status < 300:
        verdict = DELIVERED
    elif status not in check.rejected_statuses and is_retryable(status):
        verdict = RETRY
    else:
        verdict = REFUSED
    return [verdict] * events


def check_key(destination: Destination, base_url: str, key: str, policy: RetryPolicy,
              ca_bundle: str | None = None, sleep=time.sleep,
              rng: random.Random | None = None) -> KeyCheckResult:
    """Posts the destination's key-check body with the key, retrying as any request is."""
    check = destination.key_check
    if check.path is None:   # the destination's own URL
        url, request = destination.url(base_url), check.body
    else:
        url, request = base_url, Call("POST", check.path, check.body)
    as_check = dataclasses.replace(destination, encode=lambda bodies: request, retry_after=None,
                                   classify=functools.partial(classify_key_check, check))
    headers = destination.credential.headers(key)
    with make_session(headers, 1, ca_bundle) as session:
        sender = RequestSender(session, url, policy,
                               RateLimiter(_CHECKS_PER_SECOND, sleep=sleep), as_check,
                               secrets=secret_forms(key, headers), sleep=sleep, rng=rng)
        outcome = sender.send("")
    if outcome.delivered:
        return KeyCheckResult(VALID, f"HTTP {outcome.status}")
    if outcome.status in check.rejected_statuses:
        return KeyCheckResult(REJECTED, f"HTTP {outcome.status}")
    return KeyCheckResult(UNREACHABLE, outcome.reason)
