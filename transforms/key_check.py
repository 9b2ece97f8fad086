"""The destination's key check, made once before any data is read (Gainsight PX: POST `[]`).

    check_key(destination, base_url, key, policy)  # -> KeyCheckResult(verdict="valid", detail="HTTP 400")

Verdicts: "valid" (a valid status, or a 2xx), "rejected" (401/403: the key is wrong), or
"unreachable" (no answer, a 5xx or 429 after the retry policy's attempts, or an answer that
says neither). Plain Python; the CLI turns the verdict into an exit code.
"""
import random
import time
from dataclasses import dataclass

import requests

from transforms.destinations.base import Destination
from transforms.http_delivery import RetryPolicy, is_retryable, make_session, redact, secret_forms

VALID, REJECTED, UNREACHABLE = "valid", "rejected", "unreachable"


@dataclass(frozen=True)
class KeyCheckResult:
    verdict: str
    detail: str   # what was seen, never the key


def check_key(destination: Destination, base_url: str, key: str, policy: RetryPolicy,
              ca_bundle: str | None = None, sleep=time.sleep,
              rng: random.Random | None = None) -> KeyCheckResult:
    """Posts the destination's key-check body with the key, retrying as any request is."""
    check = destination.key_check
    headers = destination.credential.headers(key)
    secrets = secret_forms(key, headers)
    rng = rng or random.Random()
    detail = "no attempt"
    with make_session(headers, 1, ca_bundle) as session:
        for attempt in range(1, policy.max_retries + 2):
            try:
                response = session.post(destination.url(base_url), data=check.body,
                                        timeout=policy.timeout_seconds)
            except requests.exceptions.RequestException as err:
                detail = f"no answer: {type(err).__name__}"
            else:
                status = response.status_code
                if status in check.valid_statuses or 200 <= status < 300:
                    return KeyCheckResult(VALID, f"HTTP {status}")
                if status in check.rejected_statuses:
                    return KeyCheckResult(REJECTED, f"HTTP {status}")
                detail = redact(f"HTTP {status}: {' '.join(response.text.split())[:200]}", secrets)
                if not is_retryable(status):
                    return KeyCheckResult(UNREACHABLE, f"unexpected answer {detail}")
            if attempt <= policy.max_retries:
                sleep(policy.backoff(attempt, rng))
    return KeyCheckResult(UNREACHABLE, f"after {policy.max_retries + 1} attempts: {detail}")
