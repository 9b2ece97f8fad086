"""Fault injection settings and the seeded picker that applies them.

    >>> config = FaultConfig(rate_503=0.25, rate_429=0.25, seed=7)
    >>> picker = FaultPicker(config)
    >>> [picker.pick() for _ in range(4)]      # same list for every run with seed 7
    ['429', '503', 'ok', '503']

Each request draws one outcome: "ok" or one of the injected faults
"503", "429", "drop", "stall", "400". Rates are probabilities per request.

An outage window is separate from the picker: for `outage_seconds`, starting
`outage_after_seconds` after the config took effect, every request is refused,
alternately with a 503 and a dropped connection (no draw from the picker):

    >>> window = OutageWindow(FaultConfig(outage_after_seconds=5, outage_seconds=2), now=100.0)
    >>> window.answer(104.9), window.answer(105.0), window.answer(106.0), window.answer(107.0)
    (None, '503', 'drop', None)
"""

import dataclasses
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("ok", "503", "429", "drop", "stall", "400")
FAULTS = OUTCOMES[1:]

_RATE_FIELD_BY_FAULT = {
    "503": "rate_503",
    "429": "rate_429",
    "drop": "drop_rate",
    "stall": "stall_rate",
    "400": "rate_400",
}
_DURATION_FIELDS = ("latency_ms", "stall_seconds", "outage_after_seconds", "outage_seconds")
OUTAGE_ANSWERS = ("503", "drop")
_RATE_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class FaultConfig:
    """What the sandbox injects; all zero rates means a perfect receiver.

    rate_503, rate_429, drop_rate, stall_rate, rate_400: probability in [0, 1]
        of each fault per authorised, well-formed request; they sum to <= 1.
    retry_after_seconds: whole seconds sent in the Retry-After header of a 429.
    latency_ms: delay before answering every event request.
    stall_seconds: how long a "stall" waits before its (successful) answer.
    seed: seeds the picker, so a run's fault sequence is reproducible.
    outage_after_seconds, outage_seconds: an outage window of outage_seconds
        (0 = none) starting outage_after_seconds after this config took effect
        (the sandbox's start, or the POST /_sandbox/faults that set it); see OutageWindow.
    """

    rate_503: float = 0.0
    rate_429: float = 0.0
    retry_after_seconds: int = 1
    latency_ms: float = 0.0
    drop_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    rate_400: float = 0.0
    seed: int = 0
    outage_after_seconds: float = 0.0
    outage_seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATE_FIELD_BY_FAULT.values():
            value = self._number(name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in _DURATION_FIELDS:
            if self._number(name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not _is_int(self.retry_after_seconds) or self.retry_after_seconds < 0:
            raise ValueError(
                "retry_after_seconds must be a whole number >= 0, "
                f"got {self.retry_after_seconds!r}"
            )
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        total = sum(self.rate(fault) for fault in FAULTS)
        if total > 1.0 + _RATE_SUM_TOLERANCE:
            names = " + ".join(_RATE_FIELD_BY_FAULT.values())
            raise ValueError(f"{names} must sum to <= 1, got {total:g}")

    @classmethod
    def from_mapping(cls, fields: Any) -> "FaultConfig":
        """Build from e.g. a decoded JSON body {"rate_503": 0.1, "seed": 3}.

        Fields left out take their defaults; unknown fields are a ValueError.
        """
        if not isinstance(fields, Mapping):
            raise ValueError("fault config must be a JSON object of FaultConfig fields")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown fault config field(s): {', '.join(unknown)}")
        return cls(**fields)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def rate(self, fault: str) -> float:
        """Probability of `fault` ("503", "429", "drop", "stall" or "400")."""
        return getattr(self, _RATE_FIELD_BY_FAULT[fault])

    def _number(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FaultPicker:
    """Draws one outcome per request from a random.Random seeded by config.seed.

    One draw per pick, so the sequence depends only on the seed and the rates.
    Meant for a single asyncio loop (no locking).
    """

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._upper_bounds: list[tuple[float, str]] = []
        cumulative = 0.0
        for fault in FAULTS:
            cumulative += config.rate(fault)
            self._upper_bounds.append((cumulative, fault))

    def pick(self) -> str:
        draw = self._random.random()
        for upper_bound, fault in self._upper_bounds:
            if draw < upper_bound:
                return fault
        return "ok"


class OutageWindow:
    """When the whole service is down: [start, end) in time.monotonic() seconds.

    `now` is the monotonic time the config took effect; the window is
    [now + outage_after_seconds, now + outage_after_seconds + outage_seconds),
    empty when outage_seconds is 0. Inside it answer() alternates "503", "drop",
    "503", ... (starting with "503"), whatever the seed; outside it, None.
    """

    def __init__(self, config: FaultConfig, now: float) -> None:
        self.start = now + config.outage_after_seconds
        self.end = self.start + config.outage_seconds
        self._answers = 0

    @property
    def configured(self) -> bool:
        return self.end > self.start

    def is_active(self, now: float) -> bool:
        return self.start <= now < self.end

    def answer(self, now: float) -> str | None:
        """"503" or "drop" for a request arriving at `now` inside the window, else None."""
        if not self.is_active(now):
            return None
        answer = OUTAGE_ANSWERS[self._answers % len(OUTAGE_ANSWERS)]
        self._answers += 1
        return answer
