"""The Flex Template's metadata.json names every job flag and is in step with the code."""
import argparse
import json
import re

from deploy.make_metadata import METADATA, NOT_TEMPLATE_PARAMETERS, main
from pipeline.options import SegmentToGainsightOptions


def job_flags() -> set:
    parser = argparse.ArgumentParser()
    SegmentToGainsightOptions._add_argparse_args(parser)  # pylint: disable=protected-access
    return {action.dest for action in parser._actions if action.option_strings} - {"help"}


def test_metadata_json_is_generated_from_the_current_flags():
    assert main(["--check"]) == 0


def test_every_flag_is_a_parameter_with_label_and_help():
    parameters = {p["name"]: p for p in json.loads(METADATA.read_text())["parameters"]}
    assert set(parameters) == job_flags() - NOT_TEMPLATE_PARAMETERS
    assert all(p["label"] and p["helpText"] for p in parameters.values())


def test_regexes_accept_good_values_and_reject_bad_ones():
    parameters = {p["name"]: p for p in json.loads(METADATA.read_text())["parameters"]}

    def accepts(name, value):
        return all(re.match(regex, value) for regex in parameters[name]["regexes"])

    assert accepts("input_subscription", "projects/my-project/subscriptions/s")
    assert not accepts("input_subscription", "projects/my-project/topics/t")
    assert accepts("access_key_secret", "projects/p/secrets/gainsight/versions/latest")
    assert accepts("access_key", "35a84f9e-7084-47a1-b8a5-593444e9e862") and not accepts("access_key", "a bc")
    assert accepts("gainsight_domain", "https://acme.eu.gainsightcloud.com") and not accepts(
        "gainsight_domain", "https://acme.gainsightcloud.com/v1/data")
    assert accepts("max_requests_per_second", "12.5") and not accepts("batch_size", "ten")
