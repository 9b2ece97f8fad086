"""Names of the job's Beam counters (namespace NAMESPACE); the summary is built from them.

Every event read ends in exactly one of OUTCOMES, so that
    read == invalid + duplicates + skipped_by_integrations + unsupported + filtered
            + delivered + dead_lettered + previewed
"""
import threading
from collections import Counter

from apache_beam.metrics import Metrics

NAMESPACE = "segment_to_gainsight"

READ = "read"
BLANK_LINES = "blank_lines"            # not events, not in `read`
UNREADABLE_FILES = "unreadable_files"  # files that could not be opened or were damaged
INVALID = "invalid"
DUPLICATES = "duplicates"
SKIPPED_BY_INTEGRATIONS = "skipped_by_integrations"
UNSUPPORTED = "unsupported"
FILTERED = "filtered"
DELIVERED = "delivered"
DEAD_LETTERED = "dead_lettered"
PREVIEWED = "previewed"
UNMAPPED = "unmapped"
REQUESTS = "requests"
RETRIES = "retries"
AMBIGUOUS_RETRIES = "ambiguous_retries"
KEY_REJECTED = "key_rejected"          # dead-lettered unsent after the key was rejected repeatedly

OUTCOMES = (INVALID, DUPLICATES, SKIPPED_BY_INTEGRATIONS, UNSUPPORTED, FILTERED,
            DELIVERED, DEAD_LETTERED, PREVIEWED)

UNSUPPORTED_TYPES = ("page", "screen", "alias", "other")


def by_type(call_type: str) -> str:
    """Counter of events handed to the sink per call type: by_type.track, ..."""
    return f"by_type.{call_type}"


def unsupported_type(call_type: str) -> str:
    """Counter of not-sent call types: unsupported.page, ..., unsupported.other."""
    kind = call_type if call_type in UNSUPPORTED_TYPES else "other"
    return f"unsupported.{kind}"


class LocalTally:
    """Process-wide running totals of the job's counters, kept only when enabled.

    Runners that execute the DoFns in this process (the local runners) can read progress and,
    for a local stream, the summary from here: Beam 2.77's BundleBasedDirectRunner loses the
    metric updates of every bundle after a step's first on each worker thread (its StateSampler
    caches the first bundle's MetricsContainer). Counts are "attempted": a retried bundle
    counts twice, as Beam's attempted metrics do.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()
        self.enabled = False

    def add(self, name: str, value: int):
        with self._lock:
            self._counts[name] += value

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._counts)


LOCAL_TALLY = LocalTally()


class JobCounter:
    """A Beam counter of the job's namespace that also feeds LOCAL_TALLY when it is enabled."""

    def __init__(self, name: str):
        self._name = name
        self._beam_counter = Metrics.counter(NAMESPACE, name)

    def inc(self, value: int = 1):
        self._beam_counter.inc(value)
        if LOCAL_TALLY.enabled:
            LOCAL_TALLY.add(self._name, value)


def counter(name: str) -> JobCounter:
    """The counter `name` in the job's namespace."""
    return JobCounter(name)
