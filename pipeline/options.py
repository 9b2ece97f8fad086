"""The job's flags (one PipelineOptions class) and their start-up validation.

resolve_config() turns parsed flags into a JobConfig or raises ConfigError naming the flag,
before any data is read. The keys (--access_key, --px_api_key) are taken out of argv first
(extract_keys), so they never travel in the pipeline options that runners display and log.
"""
import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions
from apache_beam.options.pipeline_options import _BeamArgumentParser

from transforms.delivery import destinations
from transforms.delivery.destinations import gainsight_api
from transforms.stages.account_mapping import MappingError, load_mapping
from transforms.outputs.checkpoint import CheckpointMismatch, compact_settled, open_checkpoint
from transforms.delivery.http_delivery import RetryPolicy
from transforms.common.paths import input_pattern, is_remote, is_visible, output_path
from transforms.delivery.secrets import SECRET_VERSION_PATTERN, Secret
from transforms.delivery.sink import SinkConfig
from transforms.shuffle.user_blocks import MIN_BUCKETS
from transforms.stages.destination_filters import FilterError, parse_filters
from transforms.stages.user_transform import TransformError, TransformSpec, read_spec
from transforms.stages.window import Window, WindowError, parse_instant

ACCESS_KEY_ENV = destinations.get("gainsight").credential.env
# Flags that carry a key: taken out of argv before Beam sees it.
KEY_FLAGS = tuple(destination.credential.flag for destination in destinations.DESTINATIONS.values())
DEFAULT_DEAD_LETTER = "output/dead-letter/dead-letter"
# The file names an output flag given a directory writes inside it (transforms.common.paths.output_path).
DEFAULT_NAMES = {"--dead_letter": "dead-letter", "--preview": "preview", "--summary": "summary.json",
                 "--report": "report.html"}
# A project id as Beam's Pub/Sub source and sink accept it (6 to 63 characters: lowercase
# letters, digits, "-", and ":" or "." for domain-scoped projects, starting with a letter).
PROJECT_ID = r"[a-z][-a-z0-9:.]{4,61}[a-z0-9]"
SUBSCRIPTION_PATTERN = re.compile(rf"^projects/{PROJECT_ID}/subscriptions/[^/]+$")
TOPIC_PATTERN = re.compile(rf"^projects/{PROJECT_ID}/topics/[^/]+$")
PROJECT_ID_HINT = " (a project id is 6 to 63 lowercase letters, digits and -)"
SOURCE_FLAGS = "--input / --input_subscription / --input_topic"
POSITIVE_FLAGS = ("--max_requests_per_second", "--max_retry_seconds", "--http_timeout_seconds",
                  "--dedupe_window_hours", "--account_mapping_refresh_minutes",
                  "--max_buffering_seconds", "--dead_letter_window_minutes", "--identity_ttl_days",
                  "--max_outage_minutes")


class ConfigError(ValueError):
    """A flag's value is unusable; str() starts with the flag's name."""

    def __init__(self, flag: str, problem: str):
        super().__init__(f"{flag}: {problem}")
        self.flag = flag


class SegmentToGainsightOptions(PipelineOptions):
    """Flags of the segment-to-gainsight job (Beam's own flags pass through)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add = parser.add_argument
        add("--input", action="append", default=None, metavar="GLOB",
            help="Files of newline-delimited Segment JSON, local or gs://; `.gz` is decompressed. "
                 "Repeat the flag for several patterns. Segment's archive layout "
                 "(segment-logs/<source>/<day>/*.gz) reads as is; dead-letter files replay. A directory "
                 "reads every file below it, hidden ones skipped. A pattern that matches nothing is "
                 "an error: a local one at start-up, a gs:// one when the job starts reading.")
        add("--input_subscription", default=None, metavar="projects/P/subscriptions/S",
            help="Streaming: read Segment events live from this Pub/Sub subscription "
                 "(each message's data is one event). Sets --streaming. P is a project id as "
                 "Pub/Sub takes it (6 to 63 lowercase letters, digits and -; checked at start-up, "
                 "as for --input_topic and --dead_letter_topic).")
        add("--input_topic", default=None, metavar="projects/P/topics/T",
            help="Streaming: read from this Pub/Sub topic through a temporary subscription "
                 "(prefer --input_subscription in production: nothing is kept while the job is down).")
        add("--destination", default=destinations.DEFAULT, choices=sorted(destinations.DESTINATIONS),
            help="Where the events go: gainsight (Gainsight CS's Segment connector: track, "
                 "identify, group), gainsight-px (Gainsight PX: track, identify, group, page) or "
                 "gainsight-api (Gainsight CS's REST API on your tenant's domain, any data "
                 "center: identify -> People, group -> Company, track -> a custom object).")
        add("--gainsight_domain", default=None, metavar="https://TENANT.gainsightcloud.com",
            help="--destination gainsight-api (required): your Gainsight CS tenant's domain, "
                 "e.g. https://acme.gainsightcloud.com, https://acme.eu.gainsightcloud.com, "
                 "https://acme.us2.gainsightcloud.com or a custom domain. https:// unless the "
                 "host is loopback.")
        add("--person_field", action="append", default=None, metavar="TRAIT_PATH=Field",
            help="gainsight-api: an identify's value sent as a Person field, e.g. "
                 "traits.plan=Plan__gc (repeatable; once given, only the fields named are sent, "
                 "and one must be Email). Default: traits.email=Email, traits.firstName=FirstName, "
                 "traits.lastName=LastName, traits.name=Name, traits.title=Title.")
        add("--company_field", action="append", default=None, metavar="PATH=Field",
            help="gainsight-api: a group's value sent as a Company field, e.g. "
                 "groupId=SegmentId__gc (repeatable; replaces the defaults traits.name=Name, "
                 "traits.industry=Industry, traits.employees=Employees).")
        add("--company_key", default=None, metavar="Field",
            help="gainsight-api: the Company field that identifies a company (default Name); "
                 "a --company_field must map to it.")
        add("--event_object", default=None, metavar="Object__gc",
            help="gainsight-api: the custom object track calls are written to (e.g. "
                 "SegmentEvent__gc, made by your admin: docs/gainsight-api.md). Without it, "
                 "tracks are counted unsupported.")
        add("--event_field", action="append", default=None, metavar="PATH=Field",
            help="gainsight-api: a track's value sent as a field of --event_object (repeatable; "
                 "replaces the default schema event=EventName__gc, userId=UserId__gc, "
                 "properties.accountId=AccountId__gc, timestamp=Timestamp__gc, "
                 "messageId=MessageId__gc, properties=Properties__gc).")
        add("--max_requests_per_minute", type=float, default=None,
            help="gainsight-api: calls per minute over all workers (default "
                 f"{gainsight_api.DEFAULT_REQUESTS_PER_MINUTE}: Gainsight allows 100 a minute per "
                 "tenant, shared with its other API clients). Replaces --max_requests_per_second.")
        add("--max_requests_per_day", type=int, default=None,
            help="gainsight-api: calls per UTC day this run may make, over all workers (default "
                 f"{gainsight_api.DEFAULT_REQUESTS_PER_DAY}: Gainsight allows 50,000 a day per "
                 "tenant). When they are spent, a backfill stops delivering (exit 7; with "
                 "--checkpoint the same command resumes the next day); a stream waits for the "
                 "next day.")
        add("--px_region", default="us", choices=destinations.get("gainsight-px").regions,
            help="Gainsight PX data center (--destination gainsight-px): us "
                 "(segment-esp.aptrinsic.com), eu or us2.")
        add("--gainsight_endpoint", default=None,
            help="Base URL that replaces the destination's own (tests, the sandbox, a proxy); "
                 "the path is always the destination's (/clickstream/segmentio/event, or "
                 "/rte/segmentio/v1/push for PX). Must be https:// unless the host is loopback "
                 "or --allow_insecure_endpoint is given.")
        add("--access_key", default=None,
            help=f"Gainsight CS access key: for --destination gainsight the connector's key (a "
                 "36-character UUID, Administration > Connectors > Segment), checked at start-up "
                 "whenever given (needed unless --preview); for gainsight-api the Gainsight API "
                 "access key (Administration > Connectors > Gainsight API). "
                 f"Prefer the {ACCESS_KEY_ENV} "
                 "environment variable: a flag is visible in the process list. Never logged.")
        add("--access_key_secret", default=None, metavar="projects/P/secrets/S/versions/V",
            help="Read the access key from this Secret Manager secret version, once per worker "
                 "(instead of --access_key). The workers' service account needs "
                 "roles/secretmanager.secretAccessor.")
        add("--px_api_key", default=None,
            help="Gainsight PX product key (AP-..., PX: Administration > Products), for "
                 "--destination gainsight-px; no whitespace, and a UUID is refused as a Gainsight CS "
                 "access key. Checked whenever given, --preview included. Prefer the "
                 "GAINSIGHT_PX_API_KEY environment variable. Never logged.")
        add("--px_api_key_secret", default=None, metavar="projects/P/secrets/S/versions/V",
            help="Read the PX key from this Secret Manager secret version, once per worker "
                 "(instead of --px_api_key).")
        add("--integration_name", action="append", default=None, metavar="NAME",
            help="The name(s) the destination has in an event's `integrations` object, "
                 "replacing its defaults (Gainsight; for PX \"Gainsight PX Cloud (Actions)\" and "
                 "\"Actions Gainsight PX Cloud\"). Repeat the flag for several names.")
        add("--max_outage_minutes", type=float, default=60.0,
            help="A backfill whose destination stays unreachable this long stops delivering "
                 "(exit 5): with --checkpoint the same command resumes later, without it the "
                 "undelivered events go to the dead letter. A stream keeps waiting.")
        add("--track_whitelist", default="",
            help="Comma-separated track event names to send; empty sends every track event. "
                 "Case and separators are ignored: 'Order Completed' matches 'order_completed'.")
        add("--destination_filters", default=None, metavar="FILE",
            help="JSON file (local or gs://) of Segment destination filters as Segment's Public "
                 "API lists them (title, if, actions DROP / SAMPLE / DROP_PROPERTIES / "
                 "ALLOW_PROPERTIES, enabled): applied to every event after --integration_name's "
                 "consent check, as Segment applies them. Drops are counted per filter title.")
        add("--transform", default=None, metavar="FILE.py:FUNCTION",
            help="A Python function (file local or gs://) called with each event about to be "
                 "sent, after its accountId is attached: it returns the event (changed or not), "
                 "None to drop it (dropped_by_transform), or raises (dead letter with the reason). "
                 "Its source travels with the job.")
        add("--from", "--window_from", dest="window_from", default=None, metavar="INSTANT",
            help="Only events whose timestamp is at or after this ISO-8601 instant "
                 "(2024-11-01 or 2024-11-01T09:30:00Z); the others are counted out_of_window. "
                 "In Segment's archive layout, the day folders before it are not read.")
        add("--to", "--window_to", dest="window_to", default=None, metavar="INSTANT",
            help="Only events whose timestamp is before this ISO-8601 instant (exclusive); "
                 "day folders from one day after it on are not read.")
        add("--account_mapping", default=None, metavar="PATH",
            help="CSV with header userId,accountId (or JSONL with those keys), local or gs://. "
                 "Used for events whose account is not known from the event or the user's "
                 "identify/group calls; matched on the user an anonymousId is linked to, then the "
                 "event's own userId, then its anonymousId.")
        add("--dead_letter", default=DEFAULT_DEAD_LETTER, metavar="PREFIX",
            help="Prefix of the dead-letter JSONL files (local or gs://): one record per event "
                 "that could not be parsed or delivered, with stage and reason, written as the "
                 "run goes. A directory (trailing slash) gets files named dead-letter-*.jsonl.")
        add("--dead_letter_topic", default=None, metavar="projects/P/topics/T",
            help="Streaming: publish dead-letter records (one JSON record per message) to this "
                 "Pub/Sub topic instead of writing files.")
        add("--dead_letter_window_minutes", type=float, default=5.0,
            help="Streaming without --dead_letter_topic: dead-letter files are written per "
                 "window of this many minutes.")
        add("--dedupe_window_hours", type=float, default=24.0,
            help="Streaming: how long a messageId is remembered to drop redelivered copies "
                 "(Segment's window is 24 hours).")
        add("--identity_ttl_days", type=float, default=30.0,
            help="Streaming: forget what was learned about an anonymousId (its links to userIds, "
                 "an anonymous visitor's account) after this many days without activity.")
        add("--account_mapping_refresh_minutes", type=float, default=60.0,
            help="Streaming: reload --account_mapping this often.")
        add("--max_buffering_seconds", type=float, default=5.0,
            help="Streaming: the longest a request waits for its batch to fill before it is sent.")
        add("--summary", default=None, metavar="PATH",
            help="Write the run's summary (counts) as JSON here at the end of a batch run "
                 "(a directory gets summary.json).")
        add("--report", default=None, metavar="PATH",
            help="Write a delivery report here at the end of a backfill: one self-contained HTML "
                 "page (the funnel, requests over time against the cap, latency, answers, dead "
                 "letters by reason, the run's flags without any key). Local or gs://; a "
                 "directory gets report.html.")
        add("--preview", default=None, metavar="PREFIX",
            help="Build every request but send none: write them as JSONL "
                 "({\"url\": ..., \"path\": ..., \"body\": ...}, no key) to files with this prefix "
                 "(a directory gets preview-*.jsonl).")
        add("--checkpoint", default=None, metavar="DIR",
            help="Backfill: record every settled event (delivered or dead-lettered at delivery) "
                 "in this directory (local or gs://) as it settles; the same command run again "
                 "skips what is recorded there. Made for one destination and endpoint; a new "
                 "directory starts over. A stream needs none.")
        add("--batch_size", type=int, default=None,
            help="Requests handed to the sink at a time per shard (1-10000; default 500). "
                 "For gainsight-api, the events one delivery merges into People, Company and "
                 "event records (default 10000: fewer calls, and a person's identify calls "
                 "more often in one upsert).")
        add("--max_concurrent_requests", type=int, default=None,
            help="Requests in flight at once, over all shards (1-1024; default 16). For "
                 "gainsight-api, the batches being delivered at once, each making its calls one "
                 "after another (default 2: its calls are paced by the per-minute cap anyway).")
        add("--max_requests_per_second", type=float, default=50.0,
            help="Global cap on requests per second (retries included), over all workers.")
        add("--max_retries", type=int, default=3,
            help="Retries of a request after 429, 5xx, a timeout or a connection error (0-20).")
        add("--max_retry_seconds", type=float, default=300.0,
            help="Total time one request may spend in retries before it is dead-lettered.")
        add("--http_timeout_seconds", type=float, default=10.0,
            help="Seconds to wait for Gainsight's answer to one request.")
        add("--sink_parallelism", type=int, default=1,
            help="Shards of the sink (1-256): each gets 1/N of the rate and concurrency caps. "
                 "Raise it on Dataflow so several workers deliver at once; keep 1 locally, "
                 "where the shards are delivered one after another.")
        add("--no_wait", action="store_true", default=False,
            help="On Dataflow, return once a batch job is submitted instead of waiting for it "
                 "to finish and printing its summary (the Flex Template launcher sets this).")
        add("--allow_insecure_endpoint", action="store_true", default=False,
            help="Allow an http:// endpoint on a non-loopback host (the key would travel in clear).")
        add("--ca_bundle", default=None, metavar="PATH",
            help="CA bundle to verify the endpoint's TLS certificate (private CAs). "
                 "Verification is always on.")


@dataclass(frozen=True)
class JobConfig:
    """Everything build_pipeline() needs, validated."""
    inputs: tuple
    track_whitelist: str
    account_mapping: str | None
    dead_letter: str
    preview: str | None
    summary: str | None
    sink: SinkConfig
    report: str | None = None
    destination: str = destinations.DEFAULT
    integration_names: tuple = ("Gainsight",)
    input_subscription: str | None = None
    input_topic: str | None = None
    dead_letter_topic: str | None = None
    dead_letter_window_minutes: float = 5.0
    dedupe_window_hours: float = 24.0
    identity_ttl_days: float = 30.0
    account_mapping_refresh_minutes: float = 60.0
    max_buffering_seconds: float = 5.0
    no_wait: bool = False
    checkpoint: str | None = None
    destination_filters: str | None = None   # the --destination_filters file's JSON text
    transform: TransformSpec | None = None
    window: Window | None = None
    # How a backfill's events travel to the per-user step (transforms.shuffle.user_blocks, .spill): set
    # by pipeline.main for the runner it runs on, not by a flag.
    user_buckets: int = MIN_BUCKETS
    spill_dir: str | None = None

    @property
    def streaming(self) -> bool:
        return bool(self.input_subscription or self.input_topic)


def extract_keys(argv: list[str]) -> tuple[dict, list[str]]:
    """({flag: key} of KEY_FLAGS, argv without them); a key then lives only in the sink's config.

    >>> extract_keys(["--input", "x", "--px_api_key", "AP-1", "--access_key=K"])
    ({'--px_api_key': 'AP-1', '--access_key': 'K'}, ['--input', 'x'])
    """
    keys, rest, args = {}, [], iter(argv)
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag not in KEY_FLAGS:
            rest.append(arg)
        elif "=" in arg:
            keys[flag] = arg.split("=", 1)[1]
        else:
            keys[flag] = next(args, "")
    return keys, rest


def unknown_flags(argv: list[str]) -> list[str]:
    """Flags that no PipelineOptions class defines (Beam would only warn and drop them)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    _, unknown = parser.parse_known_args(argv)
    return [arg for arg in unknown if arg.startswith("-")]


def resolve_config(options: PipelineOptions, keys: dict, environ=os.environ) -> JobConfig:
    """Validates the flags (`keys`: {flag: key} from extract_keys); raises ConfigError naming
    the first bad one."""
    opts = options.view_as(SegmentToGainsightOptions)
    destination = destinations.get(opts.destination)
    runner = options.view_as(StandardOptions).runner or ""
    inputs = tuple(input_pattern(value) for value in opts.input or ())
    sources = [bool(inputs), bool(opts.input_subscription), bool(opts.input_topic)]
    if sum(sources) != 1:
        raise ConfigError(SOURCE_FLAGS, "give exactly one source: files (--input) for a backfill, "
                          "or a Pub/Sub subscription or topic for streaming")
    window = _window(opts.window_from, opts.window_to)
    for pattern in inputs:
        _check_matches(pattern, inputs, window)
    streaming = not inputs
    _check_pattern("--input_subscription", opts.input_subscription, SUBSCRIPTION_PATTERN, PROJECT_ID_HINT)
    _check_pattern("--input_topic", opts.input_topic, TOPIC_PATTERN, PROJECT_ID_HINT)
    _check_pattern("--dead_letter_topic", opts.dead_letter_topic, TOPIC_PATTERN, PROJECT_ID_HINT)
    _check_pattern("--access_key_secret", opts.access_key_secret, SECRET_VERSION_PATTERN)
    if streaming:
        for flag, value in (("--preview", opts.preview), ("--summary", opts.summary),
                            ("--report", opts.report)):
            if value:
                raise ConfigError(flag, "works with a backfill (--input) only: a stream has no end")
    elif opts.dead_letter_topic:
        raise ConfigError("--dead_letter_topic", "is for streaming; a backfill writes --dead_letter files")
    report = _check_report_path(output_path(opts.report, DEFAULT_NAMES["--report"]), opts.no_wait)
    checkpoint = _check_checkpoint_flag(opts.checkpoint, streaming, opts.preview, runner)
    preview = opts.preview
    _check_pattern("--px_api_key_secret", opts.px_api_key_secret, SECRET_VERSION_PATTERN)
    key, key_secret = _destination_key(destination, opts, keys, environ, preview)
    settings, rate, per_day = _api_settings(destination, opts)
    if settings is not None:
        endpoint = _api_domain(opts)
    else:
        if opts.px_region not in destination.base_urls:
            raise ConfigError("--px_region", f"is for --destination gainsight-px; {destination.name} "
                              "has one endpoint")
        endpoint = opts.gainsight_endpoint or destination.base_urls[opts.px_region]
        _check_endpoint(endpoint, opts.allow_insecure_endpoint)
    names = tuple(opts.integration_name or destination.consent_names)
    if any(not name.strip() for name in names):
        raise ConfigError("--integration_name", "must not be empty")
    if opts.account_mapping and "://" not in opts.account_mapping:
        try:
            load_mapping(opts.account_mapping)
        except MappingError as err:
            raise ConfigError("--account_mapping", str(err)) from None
    filters_text = _destination_filters(opts.destination_filters)
    transform = _transform(opts.transform)
    if "Dataflow" in runner and not opts.dead_letter_topic and not opts.dead_letter.startswith("gs://"):
        raise ConfigError("--dead_letter", "on Dataflow it must be a gs:// prefix")
    if opts.ca_bundle and not os.path.isfile(opts.ca_bundle):
        raise ConfigError("--ca_bundle", f"no such file: {opts.ca_bundle}")
    batch_size = opts.batch_size if opts.batch_size is not None else (
        API_BATCH_SIZE if settings is not None else DEFAULT_BATCH_SIZE)
    _check_range("--batch_size", batch_size, 1, 10_000)
    concurrency = opts.max_concurrent_requests if opts.max_concurrent_requests is not None else (
        API_CONCURRENCY if settings is not None else DEFAULT_CONCURRENCY)
    _check_range("--max_concurrent_requests", concurrency, 1, 1024)
    _check_range("--max_retries", opts.max_retries, 0, 20)
    _check_range("--sink_parallelism", opts.sink_parallelism, 1, 256)
    for flag in POSITIVE_FLAGS:
        if not getattr(opts, flag.lstrip("-")) > 0:
            raise ConfigError(flag, "must be greater than 0")
    sink = SinkConfig(
        endpoint=endpoint,
        access_key=Secret(key or ""),
        destination=destination.name,
        destination_settings=settings,
        batch_size=batch_size,
        max_concurrent_requests=concurrency,
        max_requests_per_second=rate or opts.max_requests_per_second,
        max_requests_per_day=per_day,
        sink_parallelism=opts.sink_parallelism,
        retry_policy=RetryPolicy(max_retries=opts.max_retries,
                                 timeout_seconds=opts.http_timeout_seconds,
                                 max_retry_seconds=opts.max_retry_seconds),
        ca_bundle=opts.ca_bundle,
        access_key_secret=key_secret,
        max_outage_seconds=None if streaming else opts.max_outage_minutes * 60,
        checkpoint=checkpoint,
        resumable=bool(checkpoint),
        # A backfill's sink writes its own dead letters, so that they are on disk before the
        # checkpoint says so; a stream's go through the windowed writer or the topic.
        dead_letter_prefix=None if streaming else output_path(opts.dead_letter,
                                                              DEFAULT_NAMES["--dead_letter"]))
    if checkpoint and not options.view_as(TestOptions).dry_run:  # last: it writes the manifest
        _open_checkpoint(checkpoint, destination.name, sink.url)
    return JobConfig(inputs=inputs, track_whitelist=opts.track_whitelist or "",
                     destination=destination.name, integration_names=names,
                     account_mapping=opts.account_mapping,
                     dead_letter=output_path(opts.dead_letter, DEFAULT_NAMES["--dead_letter"]),
                     preview=output_path(preview, DEFAULT_NAMES["--preview"]),
                     summary=output_path(opts.summary, DEFAULT_NAMES["--summary"]), sink=sink,
                     report=report,
                     input_subscription=opts.input_subscription, input_topic=opts.input_topic,
                     dead_letter_topic=opts.dead_letter_topic,
                     dead_letter_window_minutes=opts.dead_letter_window_minutes,
                     dedupe_window_hours=opts.dedupe_window_hours,
                     identity_ttl_days=opts.identity_ttl_days,
                     account_mapping_refresh_minutes=opts.account_mapping_refresh_minutes,
                     max_buffering_seconds=opts.max_buffering_seconds, no_wait=opts.no_wait,
                     checkpoint=checkpoint, destination_filters=filters_text, transform=transform,
                     window=window)


def _check_matches(pattern: str, patterns, window: Window | None = None):
    if "://" in pattern:
        return  # remote patterns are matched by the job (credentials live there)
    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list if is_visible(m.path, patterns)]
    if not paths:
        shown = pattern.removesuffix("/**")
        raise ConfigError("--input", f"{shown!r} " + ("holds no files" if shown != pattern else "matches no files"))
    if window is not None and not any(window.reads_folder(path) for path in paths):
        raise ConfigError("--from / --to", f"no day folder of {pattern.removesuffix('/**')!r} "
                          "lies in the window: nothing would be read")


def _window(start: str | None, end: str | None) -> Window | None:
    """The --from / --to window, or None when neither is given."""
    if start is None and end is None:
        return None
    for flag, value in (("--from", start), ("--to", end)):
        if value is not None:
            try:
                parse_instant(value)
            except WindowError as err:
                raise ConfigError(flag, str(err)) from None
    try:
        return Window.parse(start, end)
    except WindowError as err:
        raise ConfigError("--to", str(err)) from None


def _destination_filters(path: str | None) -> str | None:
    """The filters file's JSON text, every filter in it parsed (ConfigError naming the filter,
    and for an FQL error the position in its `if`); None without the flag."""
    if not path:
        return None
    try:
        with FileSystems.open(path) as handle:
            text = handle.read().decode("utf-8")
    except Exception as err:  # pylint: disable=broad-except  (local and gs:// errors alike)
        raise ConfigError("--destination_filters", f"cannot read {path}: {type(err).__name__}: {err}") from None
    try:
        parse_filters(text)
    except FilterError as err:
        raise ConfigError("--destination_filters", f"{path}: {err}") from None
    return text


def _transform(value: str | None) -> TransformSpec | None:
    if not value:
        return None
    try:
        return read_spec(value)
    except TransformError as err:
        raise ConfigError("--transform", str(err)) from None


def _check_report_path(path: str | None, no_wait: bool) -> str | None:
    """The report's file, checked before anything is read: a gs:// object name, or a local file
    that can be made (its nearest existing parent is a writable directory, and it is not a
    directory itself); ConfigError otherwise."""
    if not path:
        return None
    if no_wait:
        raise ConfigError("--report", "the report is written when the run ends: --no_wait returns "
                          "before, so give one or the other")
    if is_remote(path):
        bucket, _, name = path.split("://", 1)[1].partition("/")
        if not bucket or not name or name.endswith("/"):
            raise ConfigError("--report", f"expected gs://BUCKET/NAME (or a directory ending in /), got {path!r}")
        return path
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError("--report", f"cannot write {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ConfigError("--report", f"cannot write {path}: permission denied")
    return path


def _check_checkpoint_flag(checkpoint: str | None, streaming: bool, preview: str | None,
                           runner: str) -> str | None:
    """The checkpoint directory (without a trailing slash), or None; ConfigError if unusable."""
    if not checkpoint:
        return None
    if streaming:
        raise ConfigError("--checkpoint", "a stream needs no checkpoint: Pub/Sub acknowledgements "
                          "(and Dataflow's own checkpoints) keep its place; use it with --input")
    if preview:
        raise ConfigError("--checkpoint", "nothing is settled with --preview (nothing is sent): "
                          "give one or the other")
    if "Dataflow" in runner and not checkpoint.startswith("gs://"):
        raise ConfigError("--checkpoint", "on Dataflow it must be a gs:// directory")
    return checkpoint.rstrip("/") or checkpoint


def _open_checkpoint(directory: str, destination: str, url: str):
    """Makes or checks the checkpoint's manifest: what it was written for (never a key). On
    gs://, where every writer leaves one object per flush, the settled objects of earlier runs
    are merged into one first, so that a resume does not read more objects every time."""
    try:
        open_checkpoint(directory, {"destination": destination, "endpoint": url})
        if is_remote(directory):
            compact_settled(directory)
    except CheckpointMismatch as err:
        raise ConfigError("--checkpoint", str(err)) from None
    except OSError as err:
        raise ConfigError("--checkpoint", f"cannot use {directory}: {err}") from None


def _check_pattern(flag: str, value: str | None, pattern: re.Pattern, hint: str = ""):
    if value and not pattern.match(value):
        raise ConfigError(flag, f"expected the shape {pattern.pattern}{hint}, got {value!r}")


def _destination_key(destination, opts, keys: dict, environ, preview) -> tuple[str | None, str | None]:
    """(key, Secret Manager version) of the destination in use, checked: a key that is given
    is checked in every mode; one is required unless previewing or read from Secret Manager.
    Another destination's key flag is an error (it would not be used)."""
    credential = destination.credential
    for other in destinations.DESTINATIONS.values():
        flag = other.credential.flag
        if flag == credential.flag:   # another destination with the same key (Gainsight CS's)
            continue
        if other is not destination and (keys.get(flag) or getattr(opts, other.credential.secret_flag.lstrip("-"))):
            raise ConfigError(flag if keys.get(flag) else other.credential.secret_flag,
                              f"is for --destination {other.name}, not {destination.name}")
    key = keys.get(credential.flag)
    key = key if key is not None else environ.get(credential.env)
    secret = getattr(opts, credential.secret_flag.lstrip("-"))
    if secret and key:
        raise ConfigError(credential.secret_flag,
                          f"give either it or {credential.flag} / {credential.env}, not both")
    if key:
        problem = credential.problem(key)
        if problem:
            raise ConfigError(credential.flag, problem)
    elif not preview and not secret:
        raise ConfigError(credential.flag, f"missing: give {credential.flag} or set "
                          f"{credential.env} (or {credential.secret_flag})")
    return key, secret


DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = 16
API_CONCURRENCY = 2       # gainsight-api: batches delivered at once (memory, and the order of upserts)
API_BATCH_SIZE = 10_000   # gainsight-api merges a batch's events into records: the more, the fewer calls
API_FLAGS = ("--gainsight_domain", "--person_field", "--company_field", "--company_key",
             "--event_object", "--event_field", "--max_requests_per_minute", "--max_requests_per_day")


def _api_settings(destination, opts):
    """(Settings, requests per second, requests per day) of --destination gainsight-api from its
    flags; Nones for another destination, which must not be given them."""
    if destination.name != gainsight_api.DESTINATION.name:
        for flag in API_FLAGS:
            if getattr(opts, flag.lstrip("-")) is not None:
                raise ConfigError(flag, f"is for --destination gainsight-api, not {destination.name}")
        return None, None, None
    if opts.gainsight_endpoint:
        raise ConfigError("--gainsight_endpoint", "--destination gainsight-api takes your tenant's "
                          "domain as --gainsight_domain instead")
    try:
        settings = gainsight_api.settings_from(opts.person_field, opts.company_field,
                                               opts.company_key, opts.event_object,
                                               opts.event_field)
    except gainsight_api.SettingError as err:
        raise ConfigError(err.flag, err.problem) from None
    per_minute = opts.max_requests_per_minute
    if per_minute is None:
        per_minute = gainsight_api.DEFAULT_REQUESTS_PER_MINUTE
    elif not 0 < per_minute <= 100_000:
        raise ConfigError("--max_requests_per_minute", "must be greater than 0 (Gainsight allows "
                          "100 a minute per tenant)")
    per_day = opts.max_requests_per_day
    if per_day is None:
        per_day = gainsight_api.DEFAULT_REQUESTS_PER_DAY
    elif per_day < 1:
        raise ConfigError("--max_requests_per_day", "must be 1 or more (Gainsight allows 50,000 "
                          "a day per tenant)")
    if per_day < opts.sink_parallelism:
        raise ConfigError("--max_requests_per_day", f"must be at least --sink_parallelism "
                          f"({opts.sink_parallelism}): each shard gets its share")
    return settings, per_minute / 60.0, per_day


def _api_domain(opts) -> str:
    """--gainsight_domain as a base URL: required, https:// unless the host is loopback (a bare
    host name gets https://)."""
    domain = (opts.gainsight_domain or "").strip()
    if not domain:
        raise ConfigError("--gainsight_domain", "required with --destination gainsight-api: your "
                          "tenant's domain, e.g. https://acme.gainsightcloud.com")
    if "://" not in domain:
        domain = "https://" + domain
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ConfigError("--gainsight_domain", f"not a domain such as "
                          f"https://acme.gainsightcloud.com: {opts.gainsight_domain!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError("--gainsight_domain", "must be https:// (the access key travels in "
                          "every request)")
    return f"{parts.scheme}://{parts.netloc}"


def _check_endpoint(endpoint: str, allow_insecure: bool):
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--gainsight_endpoint", f"not an http(s) URL: {endpoint!r}")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ConfigError("--gainsight_endpoint", "must be https:// (the access key travels in "
                          "every request); pass --allow_insecure_endpoint to override")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_range(flag: str, value: int, low: int, high: int):
    if not low <= value <= high:
        raise ConfigError(flag, f"must be between {low} and {high}, got {value}")

