"""build_pipeline(): the job graph, step by step as in README's picture.

    Read ─► Parse ─► Dedupe ─► Consent ─► RouteByCallType ─┬ track ─► Whitelist ─┐
                                                           ├ identify ───────────┼─► AttachAccountId ─► ToRequests ─► Batch ─► Deliver
                                                           └ group ──────────────┘
    every failure ─► DeadLetters
"""
import apache_beam as beam

from pipeline.options import JobConfig
from transforms import tags
from transforms.consent import FilterConsent
from transforms.dead_letter import WriteDeadLetters
from transforms.dedupe import DedupeByMessageId
from transforms.enrich import AttachAccountId
from transforms.gainsight import BatchRequests, DeliverToGainsight, PreviewRequests, ToRequests
from transforms.parse import ParseEvents
from transforms.read import ReadSegmentFiles
from transforms.route import RouteByCallType
from transforms.whitelist import FilterWhitelist


def build_pipeline(pipeline: beam.Pipeline, config: JobConfig) -> None:
    """Adds the batch (files) job to `pipeline`."""
    lines = pipeline | "Read" >> ReadSegmentFiles(config.inputs)
    parsed = lines[tags.MAIN] | "Parse" >> ParseEvents()
    events = (parsed[tags.MAIN]
              | "Dedupe" >> DedupeByMessageId()
              | "Consent" >> FilterConsent())
    routed = events | "RouteByCallType" >> RouteByCallType()
    tracks = routed[tags.TRACK] | "Whitelist" >> FilterWhitelist(config.track_whitelist)
    requests = ((tracks, routed[tags.IDENTIFY], routed[tags.GROUP])
                | "Sendable" >> beam.Flatten()
                | "AttachAccountId" >> AttachAccountId(config.account_mapping)
                | "ToRequests" >> ToRequests())
    failures = [lines[tags.DEAD_LETTER], parsed[tags.DEAD_LETTER]]
    if config.preview:
        _ = requests | "Preview" >> PreviewRequests(config.preview)
    else:
        failures.append(requests
                        | "Batch" >> BatchRequests(config.sink.batch_size, config.sink.sink_parallelism)
                        | "Deliver" >> DeliverToGainsight(config.sink))
    _ = (failures
         | "AllFailures" >> beam.Flatten()
         | "DeadLetters" >> WriteDeadLetters(config.dead_letter))
