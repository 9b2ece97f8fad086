"""The sink: requests built, batched per shard, delivered to the destination (or previewed).

    event ─► ToRequests ─► (messageId, body) ─► BatchRequests ─► (shard, [requests]) ─► DeliverRequests
                                        └─► preview lines (--preview: written, not sent)

In batch, ToRequests (and the preview's lines) run inside the step before them
(InlineRequests, InlinePreview).

Shared by every destination: what a request looks like, its credential and what an answer
means come from the transforms.delivery.destinations module named by SinkConfig.destination.

Shard keys 0..sink_parallelism-1 bound how many batches are in flight at once: each shard gets
1/sink_parallelism of the global --max_requests_per_second and --max_concurrent_requests, so
the global cap holds on any number of workers.
"""
import logging
import math
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from transforms.common import counters, report_tally, stopping
from transforms.common.batches import chunked, packed_batches
from transforms.delivery import destinations
from transforms.delivery.answers import AnswerLog
from transforms.delivery.destinations.base import BatchContext, Delivery
from transforms.outputs.checkpoint import SettledRecorder
from transforms.delivery.circuit_breaker import CircuitBreaker
from transforms.outputs.dead_letter import dead_letter_record
from transforms.outputs.durable_append import DurableAppender
from transforms.delivery.http_delivery import DayBudget, RateLimiter, RequestSender, RetryPolicy, make_session, secret_forms
from transforms.common.jsonio import dumps_compact, loads_event
from transforms.outputs.jsonl_files import LineBlocks
from transforms.delivery.secrets import Secret, resolve_access_key

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SinkConfig:
    endpoint: str                          # the destination's base URL
    access_key: Secret                     # the destination's key (whatever its flag)
    destination: str = destinations.DEFAULT
    destination_settings: object = None    # what the destination's own flags set (field maps...)
    batch_size: int = 500
    max_concurrent_requests: int = 16
    max_requests_per_second: float = 50.0
    sink_parallelism: int = 1
    retry_policy: RetryPolicy = RetryPolicy()
    ca_bundle: str | None = None
    access_key_secret: str | None = None   # Secret Manager version name, read on the worker
    secret_client_factory: object = None   # tests inject a client; None: the real one
    max_outage_seconds: float | None = 3600.0  # None: wait out any outage (streaming)
    resumable: bool = False                # a --checkpoint is kept: events that could not be
                                           # sent because of the outage limit or a rejected key
                                           # are `unsent` (a resume sends them), not dead-lettered
    checkpoint: str | None = None          # --checkpoint DIR: settled events recorded, and skipped
    dead_letter_prefix: str | None = None  # batch: the sink writes its dead letters itself
    max_requests_per_day: int | None = None  # over all shards; None: no day budget

    @property
    def url(self) -> str:
        return self.destination_in_use().url(self.endpoint)

    def destination_in_use(self):
        """The destination, as its own flags configure it."""
        return destinations.get(self.destination, self.destination_settings)

    def per_shard_rate(self) -> float:
        return self.max_requests_per_second / self.sink_parallelism

    def per_shard_day_budget(self) -> int | None:
        if self.max_requests_per_day is None:
            return None
        return max(1, self.max_requests_per_day // self.sink_parallelism)

    def per_shard_concurrency(self) -> int:
        return max(1, math.ceil(self.max_concurrent_requests / self.sink_parallelism))


def shard_of(message_id: str, shards: int) -> int:
    """Stable shard 0..shards-1 for a messageId (the same on every worker and every run)."""
    return zlib.crc32(message_id.encode("utf-8")) % shards


_BY_TYPE = {call_type: counters.by_type(call_type) for call_type in counters.SENT_TYPES}


def to_request(event: dict, count) -> tuple[str, str]:
    """event -> (messageId, compact JSON body), counting by_type.<type>. ToRequestsFn's rule;
    in batch, AttachAccountId's last step applies it (transforms.stages.enrich).

    >>> to_request({"type": "track", "messageId": "m1"}, print)
    by_type.track
    ('m1', '{"type":"track","messageId":"m1"}')
    """
    count(_BY_TYPE[event["type"]])
    report_tally.note_event(event)
    return event["messageId"], dumps_compact(event)


class ToRequestsFn(counters.CountingDoFn):
    """event -> (messageId, compact JSON body); counts by_type.<type>."""

    def process(self, event):
        yield to_request(event, self.count)


class ToRequests(beam.PTransform):
    """Enriched events -> (messageId, body) requests: the body is the Segment message itself."""

    def expand(self, events):
        return events | beam.ParDo(ToRequestsFn())


class BatchRequests(beam.PTransform):
    """(messageId, body) -> (shard, [requests]) batches of up to batch_size.

    Batch mode groups by shard with a GroupByKey and cuts each shard's requests into batches
    (GroupIntoBatches would push the local runner onto its slow legacy engine); streaming uses
    GroupIntoBatches with a buffering time, so a quiet stream still flushes promptly.

    `by_user` (batch): the input is (user, request), as InlineRequests(by_user=True) makes it;
    each user's requests are grouped, and whole users packed into batches (packed_batches).
    """

    def __init__(self, batch_size: int, shards: int, streaming: bool = False,
                 max_buffering_seconds: float = 5.0, clock=time.time, by_user: bool = False):
        super().__init__()
        self._batch_size = batch_size
        self._shards = shards
        self._streaming = streaming
        self._max_buffering_seconds = max_buffering_seconds
        self._clock = clock  # processing time for the buffering timer; tests inject TestStream's
        self._by_user = by_user and not streaming

    def expand(self, requests):
        shards, size = self._shards, self._batch_size
        if self._by_user:
            return self._expand_by_user(requests)
        keyed = requests | "KeyByShard" >> beam.Map(
            lambda request: (shard_of(request[0], shards), request)).with_output_types(
                beam.typehints.KV[int, beam.typehints.Tuple[str, str]])
        if self._streaming:
            return keyed | "GroupIntoBatches" >> beam.GroupIntoBatches(
                size, max_buffering_duration_secs=self._max_buffering_seconds, clock=self._clock)
        return (keyed
                | "GroupByShard" >> beam.GroupByKey()
                | "CutBatches" >> beam.FlatMap(
                    lambda shard_requests: ((shard_requests[0], batch)
                                            for batch in chunked(shard_requests[1], size))))

    def _expand_by_user(self, user_requests):
        shards, size = self._shards, self._batch_size
        request = beam.typehints.Tuple[str, str]
        return (user_requests
                | "GroupByUser" >> beam.GroupByKey().with_input_types(beam.typehints.KV[str, request])
                | "KeyUsersByShard" >> beam.Map(lambda user: (shard_of(user[0], shards), list(user[1])))
                .with_output_types(beam.typehints.KV[int, beam.typehints.List[request]])
                | "GroupByShard" >> beam.GroupByKey()
                | "PackBatches" >> beam.FlatMap(
                    lambda shard_users: ((shard_users[0], batch)
                                         for batch in packed_batches(shard_users[1], size))))


class DeliverBatchFn(counters.CountingDoFn):
    """(shard, [requests]) -> nothing on success; one dead-letter record per undelivered event
    (yielded; or, with `dead_letter_prefix` in a backfill, written by the sink itself).

    With `checkpoint`: every event that settles here (delivered, or dead-lettered) is recorded
    in it, within a second, its dead-letter record always on disk first. (What it holds already
    is skipped upstream, where the copy of each messageId to send is chosen:
    transforms.stages.dedupe.settle_copies.)

    One requests.Session, one circuit breaker and one thread pool per DoFn instance
    (setup/teardown). Up to the destination's max_events_per_request bodies go in one request,
    or, for a destination with its own deliver(), in the calls it makes for them.
    Once a stop is requested (transforms.common.stopping), no new request goes out: the events held
    back are counted `unsent`. Requests are
    pipelined across batches: a slow retry does not hold back the rest, at most
    `per_shard_concurrency` are on the wire, and every one has finished when the bundle ends
    (finish_bundle), so a bundle commits only what was really delivered or dead-lettered.
    Never raises for one bad event: a raised exception would make the runner re-send the bundle.
    """

    THREADS_PER_CONNECTION = 4  # threads waiting out a backoff must not starve the others

    def __init__(self, config: SinkConfig):
        self._config = config

    def setup(self):
        config = self._config
        destination = config.destination_in_use()
        concurrency = config.per_shard_concurrency()
        key = resolve_access_key(config.access_key, config.access_key_secret,
                                 config.secret_client_factory, destination.credential)
        headers = destination.credential.headers(key)
        self._per_request = destination.max_events_per_request
        self._destination = destination
        # a destination with its own deliver() gets whole batches, each making its calls one
        # after another: as many at once as may be on the wire (memory, and the order of writes)
        self._max_pending = concurrency * (1 if destination.deliver else self.THREADS_PER_CONNECTION)
        self._session = make_session(headers, concurrency, config.ca_bundle)
        self._pool = ThreadPoolExecutor(max_workers=self._max_pending, thread_name_prefix="sink")
        self._breaker = CircuitBreaker(config.max_outage_seconds, on_open=_log_outage,
                                       on_probe_failed=_log_probe_failed)
        self._reported_outages, self._reported_outage_seconds = 0, 0
        self._reported_gave_up = False
        self._answers = AnswerLog()
        self._sender = RequestSender(self._session, config.url, config.retry_policy,
                                     RateLimiter(config.per_shard_rate()), destination,
                                     secrets=secret_forms(key, headers), max_in_flight=concurrency,
                                     breaker=self._breaker, should_stop=stopping.stop_requested,
                                     answers=self._answers, budget=_day_budget(config))
        self._written = {}   # a destination's memory across this instance's batches (BatchContext)
        self._dead_letters = (DurableAppender(config.dead_letter_prefix)
                              if config.dead_letter_prefix else None)
        self._recorder = (SettledRecorder(config.checkpoint, before_write=self._flush_dead_letters)
                          if config.checkpoint else None)

    def start_bundle(self):
        self._pending = {}  # future -> ([(messageId, body)], window, timestamp, {recorded})

    def process(self, shard_batch, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam,
                shared=None):
        for requests in chunked(shard_batch[1], self._per_request):
            if stopping.stop_requested():
                self.count(counters.UNSENT, len(requests))
                continue
            while len(self._pending) >= self._max_pending:
                yield from self._collect(return_when=FIRST_COMPLETED)
            recorded = set()   # the messageIds recorded while the batch was still on the wire
            future = self._pool.submit(self._deliver, requests, recorded, shared or {})
            self._pending[future] = (requests, window, timestamp, recorded)

    def _deliver(self, requests: list, recorded: set, shared: dict) -> Delivery:
        """The bodies of one request, or, for a destination that makes its own calls (its
        deliver), of one batch: settled one Outcome each. What such a destination reports
        delivered before the batch ends is recorded in the checkpoint at once (into `recorded`);
        `shared` holds its records merged over the backfill (transforms.delivery.shared_records)."""
        bodies = [body for _, body in requests]
        if self._destination.deliver is None:
            outcomes = self._sender.send_request(bodies)
            return Delivery(outcomes, outcomes[:1])

        def delivered(indices):
            if self._recorder is not None and indices:
                ids = [requests[index][0] for index in indices]
                self._recorder.record_many((message_id, counters.DELIVERED) for message_id in ids)
                recorded.update(ids)
        context = BatchContext(delivered, shared, self._written)
        return self._destination.deliver(bodies, self._sender, context)

    def finish_bundle(self):
        while self._pending:  # each as it finishes: recorded without waiting for the slowest
            yield from self._collect(return_when=FIRST_COMPLETED)
        if self._recorder is not None:
            self._recorder.flush()   # flushes the dead letters first
        self._flush_dead_letters()
        self._count_outages()
        self.flush_counts()

    def _collect(self, return_when="ALL_COMPLETED"):
        """Counts finished requests and records them; yields a windowed dead-letter record for
        each failure (unless the sink writes them itself)."""
        done, _ = wait(list(self._pending), return_when=return_when)
        self._answers.flush(self.count)   # every answer's kind and latency (their counters)
        for future in done:
            requests, window, timestamp, recorded = self._pending.pop(future)
            delivery = future.result()
            for call in delivery.calls:
                self._count_request(call)
            for name, value in delivery.counts.items():
                self.count(name, value)
            for (message_id, body), outcome in zip(requests, delivery.outcomes):
                self.count(counters.KEY_REJECTED, int(outcome.key_rejected))
                self.count(counters.BUDGET_SPENT, int(outcome.budget_spent))
                fate = settlement(outcome, self._config.resumable)
                self.count(fate)
                if fate == counters.UNSENT:
                    continue
                if fate == counters.DEAD_LETTERED:  # its record first, then the checkpoint line
                    record = undelivered_record(body, outcome)
                    if self._dead_letters is None:
                        yield WindowedValue(record, timestamp, [window])
                    else:
                        self._dead_letters.append(dumps_compact(record))
                if message_id not in recorded:
                    self._record(message_id, fate)

    def _record(self, message_id: str, outcome: str):
        if self._recorder is not None:
            self._recorder.record(message_id, outcome)

    def _flush_dead_letters(self):
        if self._dead_letters is not None:
            self._dead_letters.flush()

    def _count_request(self, outcome):
        """Attempts of one request (every event of a request shares them)."""
        self.count(counters.REQUESTS, outcome.attempts)
        self.count(counters.RETRIES, max(outcome.attempts - 1, 0))
        self.count(counters.AMBIGUOUS_RETRIES, outcome.ambiguous_retries)

    def _count_outages(self):
        breaker = self._breaker
        seconds = int(breaker.open_seconds())
        self.count(counters.OUTAGES, breaker.outages - self._reported_outages)
        self.count(counters.OUTAGE_SECONDS, seconds - self._reported_outage_seconds)
        self._reported_outages, self._reported_outage_seconds = breaker.outages, seconds
        if breaker.gave_up and not self._reported_gave_up:
            self._reported_gave_up = True
            self.count(counters.OUTAGE_STOPPED)

    def teardown(self):
        self._pool.shutdown(wait=True)
        self._session.close()
        if self._recorder is not None:
            self._recorder.close()
        if self._dead_letters is not None:
            self._dead_letters.close()


def _day_budget(config: SinkConfig):
    """The shard's share of --max_requests_per_day; a stream (no outage limit) waits for the
    next day instead of giving up."""
    limit = config.per_shard_day_budget()
    if limit is None:
        return None
    return DayBudget(limit, wait=config.max_outage_seconds is None)


def settlement(outcome, resumable: bool) -> str:
    """What an outcome makes of its event: counters.DELIVERED or counters.DEAD_LETTERED (both
    settled: recorded in a checkpoint), or counters.UNSENT (not recorded: a resume sends it).
    Unsent: a stop was requested while it waited; and, when a checkpoint keeps the run
    resumable, an outage past --max_outage_minutes, a rejected key (fixed, then resumed) or the
    day's request budget spent.

    >>> from transforms.delivery.http_delivery import Outcome
    >>> settlement(Outcome(True, 200, 1), False), settlement(Outcome(False, 400, 1), True)
    ('delivered', 'dead_lettered')
    >>> stopped = Outcome(False, None, 0, key_rejected=True)
    >>> settlement(stopped, False), settlement(stopped, True)
    ('dead_lettered', 'unsent')
    """
    if outcome.delivered:
        return counters.DELIVERED
    if outcome.stopped or (resumable and (outcome.outage_stopped or outcome.key_rejected
                                          or outcome.budget_spent)):
        return counters.UNSENT
    return counters.DEAD_LETTERED


def undelivered_record(body: str, outcome) -> dict:
    """The dead-letter record of a body that was not delivered: the event, or the body as raw
    text should it ever not parse back (the sink must not raise for one event)."""
    try:
        wrapped = {"event": loads_event(body)}
    except ValueError:
        wrapped = {"raw": body}
    return dead_letter_record("deliver", outcome.reason, status=outcome.status,
                              attempts=outcome.attempts, **wrapped)


def _log_outage(breaker):
    _LOG.warning("destination unreachable (every recent attempt failed with a connection error, "
                 "timeout or 5xx): holding delivery, probing at growing intervals")


def _log_probe_failed(breaker):
    status = breaker.status()
    if status:
        _LOG.warning("destination still unreachable; next probe in %.0f s", status[1])


class DeliverRequests(beam.PTransform):
    """(shard, [requests]) batches -> dead-letter records of what could not be delivered.
    `shared`: the (key, record) pairs of transforms.delivery.shared_records, read by every batch."""

    def __init__(self, config: SinkConfig, shared=None):
        super().__init__()
        self._config = config
        self._shared = shared

    def expand(self, batches):
        if self._shared is None:
            return batches | beam.ParDo(DeliverBatchFn(self._config))
        return batches | beam.ParDo(DeliverBatchFn(self._config), shared=beam.pvalue.AsDict(self._shared))


def preview_line(request, url: str, path: str) -> str:
    """(messageId, body) -> '{"url":"https://.../clickstream/segmentio/event",
    "path":"/clickstream/segmentio/event","body":{...}}' (no credential)."""
    return '{"url":"%s","path":"%s","body":%s}' % (url, path, request[1])


class InlineRequests:
    """Batch: ToRequests' rule run inside the step before it (AttachAccountId's last DoFn),
    which saves the runner handing every event on. add(event, count, owner) -> the outputs for
    the event: its request, or with `by_user` (owner, request); drain() -> the outputs left at
    the bundle's end."""

    def __init__(self, by_user: bool = False):
        self._by_user = by_user

    def add(self, event: dict, count, owner: str | None = None) -> tuple:
        request = to_request(event, count)
        return ((owner, request),) if self._by_user else (request,)

    def drain(self) -> tuple:
        return ()


class InlinePreview:
    """Batch --preview: ToRequests' rule, then each request's preview_line(), inside the step
    before them (InlineRequests' add/drain); the lines come out joined in blocks
    (transforms.outputs.jsonl_files.LineBlocks) for WriteJsonLines(joined=True). Counts previewed.

    `calls` (a destination's preview: event -> [(method, path, body)]) writes instead one line
    per call the event goes into: {"method": "PUT", "url": ..., "path": ..., "body": {...}}."""

    def __init__(self, url: str, path: str, calls=None):
        self._url, self._path, self._calls = url, path, calls
        self._blocks = LineBlocks()

    def add(self, event: dict, count, owner: str | None = None) -> tuple:
        del owner   # previewed one by one
        count(counters.PREVIEWED)
        request = to_request(event, count)
        if self._calls is None:
            lines = (preview_line(request, self._url, self._path),)
        else:
            base = self._url.rstrip("/")
            lines = (dumps_compact({"method": method, "url": base + path, "path": path, "body": body})
                     for method, path, body in self._calls(event))
        blocks = [block for block in map(self._blocks.add, lines) if block is not None]
        return tuple(blocks)

    def drain(self) -> tuple:
        block = self._blocks.drain()
        return () if block is None else (block,)
