"""`--help`, `--help_beam` and `--version` of the segment-to-gainsight command.

Beam's own parser would answer `--help` with Beam's runner flags first and this job's last (over
900 lines). The job's help shows its own flags, grouped under GROUPS, each with its default, and
names the flag that lists Beam's and Dataflow's options.

Adding a flag to SegmentToGainsightOptions: add its name to one of GROUPS. A flag in no group
still shows, under "other", and a unit test fails until it is placed.
"""
import argparse
from importlib import metadata

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from pipeline import __version__
from pipeline.options import SegmentToGainsightOptions

PROG = "segment-to-gainsight"
HELP_FLAGS = ("-h", "--help")
HELP_BEAM_FLAG = "--help_beam"
VERSION_FLAG = "--version"
OTHER = "other"

# Heading -> the flags shown under it, in this order.
GROUPS = (
    ("input", ("--input", "--input_subscription", "--input_topic", "--account_mapping")),
    ("Gainsight and destinations", (
        "--destination", "--gainsight_endpoint", "--access_key", "--access_key_secret",
        "--px_region", "--px_api_key", "--px_api_key_secret", "--integration_name",
        "--track_whitelist", "--allow_insecure_endpoint", "--ca_bundle")),
    ("what is sent", ("--from", "--to", "--destination_filters", "--transform")),
    ("Gainsight CS REST API (--destination gainsight-api)", (
        "--gainsight_domain", "--person_field", "--company_field", "--company_key",
        "--event_object", "--event_field", "--max_requests_per_minute", "--max_requests_per_day")),
    ("delivery", (
        "--batch_size", "--max_concurrent_requests", "--max_requests_per_second", "--max_retries",
        "--max_retry_seconds", "--http_timeout_seconds", "--max_outage_minutes",
        "--sink_parallelism")),
    ("outputs", ("--dead_letter", "--dead_letter_topic", "--summary", "--report", "--preview", "--checkpoint",
                 "--no_wait")),
    ("streaming", (
        "--dedupe_window_hours", "--identity_ttl_days", "--account_mapping_refresh_minutes",
        "--max_buffering_seconds", "--dead_letter_window_minutes")),
)

# Flags whose default is not a value of their own: what the job uses instead.
DEFAULT_TEXT = {
    "gainsight_endpoint": "the destination's: https://event.gainsight.com, or PX's for --px_region",
    "access_key": "$GAINSIGHT_ACCESS_KEY",
    "px_api_key": "$GAINSIGHT_PX_API_KEY",
    "integration_name": "the destination's names",
    "person_field": "traits.email=Email and the names listed",
    "company_field": "traits.name=Name and the names listed",
    "company_key": "Name",
    "event_field": "the schema listed",
    "max_requests_per_minute": "90 for gainsight-api",
    "max_requests_per_day": "45000 for gainsight-api",
    "batch_size": "500; 10000 for gainsight-api",
    "max_concurrent_requests": "16; 2 for gainsight-api",
}

DESCRIPTION = ("Moves Segment events (Pub/Sub, or Segment's archives and JSONL files) into "
               "Gainsight. Give exactly one of --input, --input_subscription, --input_topic.")
EPILOG = (f"Beam's and Dataflow's own options (--runner, --project, --region, --temp_location, "
          f"--setup_file, ...): {PROG} {HELP_BEAM_FLAG}")


def handle(argv) -> int | None:
    """Answers --help_beam, -h/--help or --version (exit code 0); None for any other argv."""
    if HELP_BEAM_FLAG in argv:
        beam_parser().print_help()
        return 0
    if any(flag in argv for flag in HELP_FLAGS):
        job_parser().print_help()
        return 0
    if VERSION_FLAG in argv:
        print(f"{PROG} {version()}")
        return 0
    return None


def version() -> str:
    """The installed package's version, else (running from a checkout) pipeline.__version__."""
    try:
        return metadata.version(PROG)
    except metadata.PackageNotFoundError:
        return __version__


class _DefaultsFormatter(argparse.HelpFormatter):
    """Ends every flag's help with its default."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=36)

    def _get_help_string(self, action):
        help_text = action.help or ""
        if not action.option_strings or action.default is argparse.SUPPRESS:
            return help_text
        default = describe_default(action).replace("%", "%%")  # help text is %-formatted
        return f"{help_text} (default: {default})"


def describe_default(action) -> str:
    if action.dest in DEFAULT_TEXT:
        return DEFAULT_TEXT[action.dest]
    default = action.default
    if action.nargs == 0 and isinstance(action.const, bool):  # store_true / store_false
        return "on" if default else "off"
    if default is None:
        return "none"
    if isinstance(default, float):
        return f"{default:g}"
    if default == "":
        return "empty"
    return str(default)


def job_flags(options_class=SegmentToGainsightOptions) -> list:
    """The argparse actions of the job's options class, in the order it defines them."""
    scratch = _BeamArgumentParser(add_help=False)
    options_class._add_argparse_args(scratch)  # pylint: disable=protected-access
    return list(scratch._actions)  # pylint: disable=protected-access


def group_of(flag: str) -> str:
    for heading, flags in GROUPS:
        if flag in flags:
            return heading
    return OTHER


def job_parser(options_class=SegmentToGainsightOptions) -> argparse.ArgumentParser:
    """The job's flags under GROUPS' headings (unplaced ones under "other"), then EPILOG."""
    parser = argparse.ArgumentParser(prog=PROG, usage=f"{PROG} [--input GLOB | --input_subscription "
                                     f"SUB | --input_topic TOPIC] [options]",
                                     description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_DefaultsFormatter)
    parser.add_argument(VERSION_FLAG, action="version", version=f"{PROG} {version()}",
                        help="print the version and exit")
    actions = job_flags(options_class)
    groups = {heading: parser.add_argument_group(heading) for heading, _ in GROUPS}
    order = {flag: index for _, flags in GROUPS for index, flag in enumerate(flags)}
    for action in sorted(actions, key=lambda a: order.get(a.option_strings[0], len(order))):
        if action.metavar is None and action.type in (int, float):
            action.metavar = "N"  # not MAX_CONCURRENT_REQUESTS
        heading = group_of(action.option_strings[0])
        if heading not in groups:
            groups[heading] = parser.add_argument_group(heading)
        groups[heading]._add_action(action)  # pylint: disable=protected-access
    return parser


def beam_parser() -> argparse.ArgumentParser:
    """Every PipelineOptions class's flags (Beam's, Dataflow's and this job's), as Beam lists them."""
    parser = _BeamArgumentParser(prog=PROG, allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser
