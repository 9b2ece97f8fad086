"""Names of the job's Beam counters (namespace NAMESPACE); the summary is built from them.

Every event read ends in exactly one of OUTCOMES, so that
    read == invalid + out_of_window + duplicates + skipped_by_integrations + dropped_by_filter
            + unsupported + filtered + dropped_by_transform + delivered + dead_lettered
            + previewed + already_settled + unsent
"""
import threading
import time
from collections import Counter

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.common import worker_files

NAMESPACE = "segment_to_gainsight"

READ = "read"
BLANK_LINES = "blank_lines"            # not events, not in `read`
BYTES_READ = "bytes_read"              # of the input files (compressed bytes for .gz); progress only
UNREADABLE_FILES = "unreadable_files"  # files that could not be opened or were damaged
INVALID = "invalid"
DUPLICATES = "duplicates"
SKIPPED_BY_INTEGRATIONS = "skipped_by_integrations"
UNSUPPORTED = "unsupported"
FILTERED = "filtered"
OUT_OF_WINDOW = "out_of_window"        # outside --from / --to (or without a time, when given)
DROPPED_BY_FILTER = "dropped_by_filter"  # by --destination_filters; per filter: dropped_by_filter.<title>
DROPPED_BY_TRANSFORM = "dropped_by_transform"  # the --transform function returned None
DELIVERED = "delivered"
DEAD_LETTERED = "dead_lettered"
PREVIEWED = "previewed"
UNMAPPED = "unmapped"
REQUESTS = "requests"
RETRIES = "retries"
AMBIGUOUS_RETRIES = "ambiguous_retries"
KEY_REJECTED = "key_rejected"          # dead-lettered unsent after the key was rejected repeatedly
BUDGET_SPENT = "budget_spent"          # not sent: the day's --max_requests_per_day was spent
ALREADY_SETTLED = "already_settled"    # recorded in --checkpoint by an earlier run: not sent again
UNSENT = "unsent"                      # held back because delivery stopped (interrupted, outage)
STITCHED = "stitched"                  # sent events whose account came through an anonymousId link
OUTAGES = "outages"                    # times the sink's circuit breaker opened
OUTAGE_SECONDS = "outage_seconds"      # seconds it stayed open, summed over shards
OUTAGE_STOPPED = "outage_stopped"      # shards that gave up after --max_outage_minutes
NOT_LINKED = "not_linked"              # delivered group calls whose user could not be linked to
                                       # the company (no email known: gainsight-api)

OUTCOMES = (INVALID, OUT_OF_WINDOW, DUPLICATES, SKIPPED_BY_INTEGRATIONS, DROPPED_BY_FILTER,
            UNSUPPORTED, FILTERED, DROPPED_BY_TRANSFORM, DELIVERED, DEAD_LETTERED, PREVIEWED,
            ALREADY_SETTLED, UNSENT)

# by_type keys of the summary: every call type some destination takes.
SENT_TYPES = ("track", "identify", "group", "page")

UNSUPPORTED_TYPES = ("page", "screen", "alias", "track", "other")


def by_type(call_type: str) -> str:
    """Counter of events handed to the sink per call type: by_type.track, ..."""
    return f"by_type.{call_type}"


def dropped_by_filter(title: str) -> str:
    """Counter of the events one destination filter dropped: dropped_by_filter.<its title>."""
    return f"{DROPPED_BY_FILTER}.{title}"


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

    A worker process of a local run on several cores publishes its totals to the run's
    directory every second (publish_to; transforms.common.worker_files), where the job's process
    reads them for its progress line.
    """

    PUBLISH_SECONDS = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._local = threading.local()   # one dict per thread: adding takes no lock
        self._per_thread = []
        self.enabled = False

    def add(self, name: str, value: int):
        counts = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
            with self._lock:
                self._per_thread.append(counts)
        counts[name] = counts.get(name, 0) + value

    def publish_to(self, directory: str, outage=lambda: None) -> None:
        """A worker process: counts are kept, and a daemon thread writes them to `directory`
        every PUBLISH_SECONDS with the outage open now (`outage()`: the circuit breakers'
        current_outage) (transforms.common.worker_files.write_counts)."""
        self.enabled = True
        threading.Thread(target=self._publish_every, args=(directory, outage), daemon=True,
                         name="publish-counts").start()

    def _publish_every(self, directory: str, outage):
        published = None
        while True:
            time.sleep(self.PUBLISH_SECONDS)
            status = (self.snapshot(), outage())
            if status == published and status[1] is None:
                continue
            try:
                worker_files.write_counts(directory, *status)
            except OSError:   # the run's directory is gone (it ended): the counts are progress only
                return
            published = status

    def reset(self):
        """Forgets every count (a new run starts from zero; threads that counted before add to
        new dicts)."""
        with self._lock:
            self._per_thread = []
            self._local = threading.local()

    def snapshot(self) -> dict:
        total = Counter()
        with self._lock:
            threads = list(self._per_thread)
        for counts in threads:
            total.update(_copy_while_written(counts))
        return dict(total)


def _copy_while_written(counts: dict) -> dict:
    """A copy of a dict that its own thread may be adding keys to right now."""
    while True:
        try:
            return dict(counts)
        except RuntimeError:  # "dictionary changed size during iteration": try again
            continue


LOCAL_TALLY = LocalTally()


class CountingDoFn(beam.DoFn):
    """A DoFn that counts outcomes cheaply: count() adds to a plain dict, and the totals go to
    the Beam counters (and LOCAL_TALLY) every FLUSH_EVERY counts and at the end of each bundle.

    Subclasses that define finish_bundle call self.flush_counts() at its end.
    """

    FLUSH_EVERY = 1000

    def count(self, name: str, value: int = 1):
        try:
            pending = self._pending_counts
        except AttributeError:
            pending = self._pending_counts = {}
            self._counted_since_flush = 0
        pending[name] = pending.get(name, 0) + value
        self._counted_since_flush += 1
        if self._counted_since_flush >= self.FLUSH_EVERY:
            self.flush_counts()

    def flush_counts(self):
        pending = getattr(self, "_pending_counts", None)
        if pending:
            for name, value in pending.items():
                if value:
                    Metrics.counter(NAMESPACE, name).inc(value)
                    if LOCAL_TALLY.enabled:
                        LOCAL_TALLY.add(name, value)
            pending.clear()
        self._counted_since_flush = 0

    def finish_bundle(self):
        self.flush_counts()
