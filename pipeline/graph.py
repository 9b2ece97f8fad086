"""build_pipeline(): the job graph, step by step as in the pictures of docs/attribution.md.

Optional steps, present only with their flag: Window (--from / --to) after Parse,
DestinationFilters (--destination_filters) after Consent, Transform (--transform) after
AttachAccountId; its failures go to the dead letter like Parse's.

Batch (a backfill from files):

    Read ─► Parse ─► Consent ─► RouteByCallType ─► Whitelist ─► AttachAccountId ─► ToRequests ─► Batch ─► Deliver
                        │       (the destination's   (tracks only)   ▲ (dedupe inside its
                        │        call types go on)                    │  per-user grouping)
                        └─► LinkIdentities ─ link table (compact) ────┘
    In batch, reading the files, Parse ... Whitelist, LinkIdentities' BufferLinks and
    AttachAccountId's KeyByUser are one step, ReadToUser (transforms.stages.prepare; ParseToUser when a
    test supplies the lines), and ToRequests (with --preview, the preview's lines too) runs
    inside ResolveFromHistory: the same functions and counters, fewer hand-offs between DoFns.
    The events cross the per-user grouping in blocks per user bucket, spilled to local files on
    a local run (JobConfig.user_buckets and spill_dir, set by pipeline.main).

Streaming (Pub/Sub):

    Read ─► Parse ─► Consent ─► LinkIdentities ─► RouteByCallType ─► Whitelist ─► Dedupe ─► AttachAccountId ─► ...
    every failure ─► DeadLetters

The destination (transforms.delivery.destinations) decides which call types RouteByCallType lets on,
which `integrations` names Consent honours, and what Deliver's requests look like.

One chain, not branches per call type that a Flatten joins again: Beam's local runner writes the
input of every Flatten out and reads it back. In batch the only full-event shuffle is
AttachAccountId's per-user grouping, which also deduplicates; links are taken from every
consented event (pages and tracks off the whitelist too) by a compact branch right after Consent.
In streaming, LinkIdentities learns the links in per-anonymousId state in line and tags each
event with its owner; Dedupe and AttachAccountId keep their state and labels.

Labels are the Dataflow step names, the metric names and what `--update` matches on: keep the
streaming ones stable.
"""
import functools

import apache_beam as beam

from pipeline.options import JobConfig
from transforms.common import tags
from transforms.stages.consent import FilterConsent
from transforms.outputs.dead_letter import PublishDeadLetters, WriteDeadLetters
from transforms.stages.dedupe import DedupeByMessageId
from transforms.stages.destination_filters import ApplyDestinationFilters
from transforms.stages.enrich import AttachAccountId
from transforms.stages.identity import LinkIdentities
from transforms.outputs.jsonl_files import WriteJsonLines
from transforms.delivery.shared_records import MergeSharedRecords
from transforms.delivery.sink import BatchRequests, DeliverRequests, InlinePreview, InlineRequests, ToRequests
from transforms.stages.parse import ParseEvents
from transforms.stages.prepare import LINKS, ParseToUser
from transforms.stages.read import MatchSegmentFiles, ReadPubSubEvents, ReadSegmentFiles
from transforms.stages.route import RouteByCallType
from transforms.stages.user_transform import ApplyTransform
from transforms.stages.whitelist import FilterWhitelist
from transforms.stages.window import KeepInWindow


def build_pipeline(pipeline: beam.Pipeline, config: JobConfig, reader: beam.PTransform | None = None) -> None:
    """Adds the job to `pipeline`: a backfill for --input, the live stream for Pub/Sub.

    `reader` replaces the source (a PTransform of the pipeline's start yielding
    {MAIN: ((source, n), bytes), DEAD_LETTER: records}); tests feed a TestStream through it.
    """
    streaming = config.streaming
    destination = config.sink.destination_in_use()
    if streaming:
        lines = pipeline | "Read" >> (reader or _reader(config))
        parsed = lines[tags.MAIN] | "Parse" >> ParseEvents()
        events = parsed[tags.MAIN]
        if config.window is not None:
            events = events | "Window" >> KeepInWindow(config.window)
        consented = events | "Consent" >> FilterConsent(config.integration_names)
        if config.destination_filters is not None:   # before LinkIdentities: drops teach nothing
            consented = consented | "DestinationFilters" >> ApplyDestinationFilters(config.destination_filters)
        sendable = (consented
                    | "LinkIdentities" >> LinkIdentities(streaming, config.identity_ttl_days)
                    | "RouteByCallType" >> RouteByCallType(destination.call_types)
                    | "Whitelist" >> FilterWhitelist(config.track_whitelist)
                    | "Dedupe" >> DedupeByMessageId(config.dedupe_window_hours))
        links = None
    else:  # Read's Lines, Parse, [Window], Consent, [DestinationFilters], BufferLinks,
        # RouteByCallType, Whitelist, KeyByUser: one step
        steps = (config.integration_names, destination.call_types, config.track_whitelist)
        # how the events travel to the per-user step, and the optional per-event steps
        fused = {"user_buckets": config.user_buckets, "spill_dir": config.spill_dir,
                 "window": config.window, "filters_text": config.destination_filters}
        if reader is None:
            lines = {tags.DEAD_LETTER: None}   # read damage goes with Parse's dead letters
            parsed = sendable = (pipeline
                                 | "Read" >> MatchSegmentFiles(config.inputs, config.window)
                                 | "ReadToUser" >> ParseToUser(*steps, read_files=True, **fused))
        else:
            lines = pipeline | "Read" >> reader
            parsed = sendable = lines[tags.MAIN] | "ParseToUser" >> ParseToUser(*steps, **fused)
        links = parsed[LINKS] | "LinkIdentities" >> LinkIdentities(buffered=True)
    attached = sendable | "AttachAccountId" >> AttachAccountId(
        config.account_mapping, streaming, config.account_mapping_refresh_minutes, links=links,
        identity_ttl_days=config.identity_ttl_days, checkpoint=config.checkpoint,
        then=None if streaming else _following_step(config, destination),
        transform=None if streaming else config.transform)
    transform_failures = None
    if config.transform is not None:   # after attribution: the function sees the accountId
        if streaming:
            attached = attached | "Transform" >> ApplyTransform(config.transform)
        attached, transform_failures = attached[tags.MAIN], attached[tags.DEAD_LETTER]
    requests = attached | "ToRequests" >> ToRequests() if streaming else attached
    failures = {name: records for name, records in
                (("Read", lines[tags.DEAD_LETTER]), ("Parse", parsed[tags.DEAD_LETTER]),
                 ("Transform", transform_failures)) if records is not None}
    if config.preview:  # batch only: the preview's lines came out of AttachAccountId's last step
        # a local run (it has a spill directory: pipeline.main.with_event_travel) runs each
        # bundle once, and writes the preview without WriteToText's temporary files and renames
        _ = requests | "Preview" >> WriteJsonLines(config.preview, joined=True,
                                                   own_files=config.spill_dir is not None)
    else:
        undelivered = (requests
                       | "Batch" >> BatchRequests(config.sink.batch_size, config.sink.sink_parallelism,
                                                  streaming, config.max_buffering_seconds,
                                                  by_user=destination.batch_by_user)
                       | "Deliver" >> DeliverRequests(config.sink, _shared_records(requests, destination, streaming)))
        if streaming:  # a backfill's sink writes its own (before its checkpoint records them)
            failures["Deliver"] = undelivered
    if streaming:  # one writer (or topic) for all; the labels --update matches stay as they were
        _ = (tuple(failures.values())
             | "AllFailures" >> beam.Flatten()
             | "DeadLetters" >> _dead_letter_writer(config))
    else:  # a writer fused into each stage that fails events: on disk as they happen
        _ = failures | "DeadLetters" >> _dead_letter_writer(config)


def _shared_records(requests, destination, streaming: bool):
    """Batch: the records several batches write, merged over the backfill (None: none)."""
    if streaming or destination.shared_records is None:
        return None
    return requests | "MergeSharedRecords" >> MergeSharedRecords(destination.shared_records,
                                                                  keyed=destination.batch_by_user)


def _following_step(config: JobConfig, destination):
    """Batch: what AttachAccountId's last step runs on each resolved event: ToRequests' rule,
    and with --preview also the preview's lines (transforms.delivery.sink)."""
    if config.preview:
        return functools.partial(InlinePreview, config.sink.url, destination.path, destination.preview)
    return functools.partial(InlineRequests, by_user=destination.batch_by_user)


def _reader(config: JobConfig) -> beam.PTransform:
    if config.streaming:
        return ReadPubSubEvents(subscription=config.input_subscription, topic=config.input_topic)
    return ReadSegmentFiles(config.inputs, config.window)


def _dead_letter_writer(config: JobConfig) -> beam.PTransform:
    if config.dead_letter_topic:
        return PublishDeadLetters(config.dead_letter_topic)
    return WriteDeadLetters(config.dead_letter, config.streaming, config.dead_letter_window_minutes)
