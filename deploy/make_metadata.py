"""Writes deploy/metadata.json, the Flex Template's parameter list, from the job's own flags.

    python -m deploy.make_metadata          # rewrite deploy/metadata.json
    python -m deploy.make_metadata --check  # exit 1 if it is out of date (the tests run this)

Every flag of SegmentToGainsightOptions becomes a parameter with its help text, a label, and a
regex where the value has a known shape, so the template can never drift from the code.
"""
import argparse
import json
import re
import sys
from pathlib import Path

from pipeline.generated_file import write_or_check
from pipeline.options import (SUBSCRIPTION_PATTERN, TOPIC_PATTERN, SegmentToGainsightOptions)
from transforms.delivery.secrets import SECRET_VERSION_PATTERN

METADATA = Path(__file__).resolve().parent / "metadata.json"
# The launcher sets --no_wait itself, and --summary and --report are written when a run ends, which a
# launched template does not wait for.
NOT_TEMPLATE_PARAMETERS = {"no_wait", "summary", "report"}
GCS_OR_LOCAL = r"^(gs://|/|\.|[A-Za-z0-9_]).*"
INTEGER = r"^[0-9]+$"
NUMBER = r"^[0-9]+(\.[0-9]+)?$"
REGEXES = {
    "input": [r"^gs://.+"],
    "input_subscription": [SUBSCRIPTION_PATTERN.pattern],
    "input_topic": [TOPIC_PATTERN.pattern],
    "dead_letter_topic": [TOPIC_PATTERN.pattern],
    # a UUID for the Segment connector; the REST API's key has no documented shape
    "access_key": [r"^\S+$"],
    "access_key_secret": [SECRET_VERSION_PATTERN.pattern],
    "px_api_key": [r"^AP-\S+$"],
    "px_api_key_secret": [SECRET_VERSION_PATTERN.pattern],
    "gainsight_endpoint": [r"^https?://[^\s/]+(/.*)?$"],
    "gainsight_domain": [r"^(https?://)?[^\s/]+/?$"],
    "dead_letter": [r"^gs://.+"],
    "account_mapping": [r"^gs://.+"],
    "preview": [r"^gs://.+"],
    "checkpoint": [r"^gs://.+"],
    "ca_bundle": [GCS_OR_LOCAL],
    "allow_insecure_endpoint": [r"^(true|false)$"],
}
for _name in ("batch_size", "max_concurrent_requests", "max_retries", "sink_parallelism",
              "max_requests_per_day"):
    REGEXES[_name] = [INTEGER]
for _name in ("max_requests_per_second", "http_timeout_seconds", "max_retry_seconds",
              "dedupe_window_hours", "account_mapping_refresh_minutes", "max_buffering_seconds",
              "dead_letter_window_minutes", "max_outage_minutes", "max_requests_per_minute"):
    REGEXES[_name] = [NUMBER]


def template_parameters() -> list[dict]:
    parser = argparse.ArgumentParser()
    SegmentToGainsightOptions._add_argparse_args(parser)  # pylint: disable=protected-access
    parameters = []
    for action in parser._actions:  # pylint: disable=protected-access
        if not action.option_strings or action.dest in {"help"} | NOT_TEMPLATE_PARAMETERS:
            continue
        parameter = {"name": action.dest, "label": action.dest.replace("_", " ").capitalize(),
                     "helpText": action.help, "isOptional": True}
        if action.dest in REGEXES:
            parameter["regexes"] = REGEXES[action.dest]
        elif action.choices:
            parameter["regexes"] = ["^(" + "|".join(re.escape(choice) for choice in action.choices) + ")$"]
        parameters.append(parameter)
    return parameters


def metadata() -> dict:
    return {
        "name": "Segment to Gainsight",
        "description": "Delivers Segment calls to Gainsight CS (track, identify, group) or "
                       "Gainsight PX (also page), attributed to the Salesforce account: live from "
                       "Pub/Sub (streaming) or from Segment's archives in Cloud Storage (batch). "
                       "Give exactly one of input, input_subscription, input_topic; and for "
                       "destination gainsight access_key_secret (preferred) or access_key, for "
                       "gainsight-px px_api_key_secret (preferred) or px_api_key; destination "
                       "gainsight-api (Gainsight CS's REST API, any data center) also needs "
                       "gainsight_domain.",
        "parameters": template_parameters(),
    }


def main(argv=None) -> int:
    return write_or_check(METADATA, json.dumps(metadata(), indent=2) + "\n",
                          "python -m deploy.make_metadata", argv)

if __name__ == "__main__":
    sys.exit(main())
