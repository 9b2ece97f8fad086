"""Names of the job's Beam counters (namespace NAMESPACE); the summary is built from them.

Every event read ends in exactly one of OUTCOMES, so that
    read == invalid + duplicates + skipped_by_integrations + unsupported + filtered
            + delivered + dead_lettered + previewed
"""
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


def counter(name: str):
    """The Beam counter `name` in the job's namespace."""
    return Metrics.counter(NAMESPACE, name)
