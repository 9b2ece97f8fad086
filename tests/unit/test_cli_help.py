"""The job's own --help (grouped, with defaults, under the command's name), --help_beam and
--version, as pipeline.main.run answers them."""
import re

import pytest

import pipeline
from pipeline import cli_help
from pipeline.main import run

HEADINGS = ["input", "Gainsight and destinations", "delivery", "outputs", "streaming"]


@pytest.fixture(autouse=True)
def terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal's width


def job_help(capsys) -> str:
    assert run(["--help"]) == 0
    return capsys.readouterr().out


def flag_lines(text: str) -> list:
    """The flags a help text lists (one per entry, at its start)."""
    return re.findall(r"^  (--?[a-z_-]+)", text, re.M)


def flags_of(options_class) -> list:
    return [action.option_strings[0] for action in cli_help.job_flags(options_class)]


def test_usage_names_the_command(capsys):
    assert job_help(capsys).startswith("usage: segment-to-gainsight ")


def test_headings_appear_in_order(capsys):
    text = job_help(capsys)
    positions = [text.index(f"\n{heading}:\n") for heading in HEADINGS]
    assert positions == sorted(positions)
    assert "\nother:\n" not in text


def test_every_job_flag_is_placed_in_a_named_group():
    unplaced = [flag for flag in flags_of(cli_help.SegmentToGainsightOptions)
                if cli_help.group_of(flag) == cli_help.OTHER]
    assert not unplaced, f"add {unplaced} to a group in pipeline/cli_help.py GROUPS"


def test_help_lists_the_job_flags_each_with_its_default_and_no_beam_flag(capsys):
    text = job_help(capsys)
    job = flags_of(cli_help.SegmentToGainsightOptions)
    assert sorted(flag_lines(text)) == sorted(["-h", "--version", *job])
    assert text.count("(default:") == len(job)
    beam = [action.option_strings[0] for action in cli_help.beam_parser()._actions
            if action.option_strings[0] not in job and action.option_strings[0] != "-h"]
    assert "--runner" in beam and "--temp_location" in beam
    assert not set(flag_lines(text)) & set(beam)


def test_beam_options_are_named_in_one_last_line(capsys):
    lines = job_help(capsys).rstrip().splitlines()
    last = lines[-2] + " " + lines[-1]  # the line wraps
    assert "Beam's and Dataflow's own options" in last and "segment-to-gainsight --help_beam" in last
    assert sum("--help_beam" in line for line in lines) == 1


def test_defaults_read_as_values(capsys):
    text = " ".join(job_help(capsys).split())  # unwrapped
    assert "--max_requests_per_second N Global cap" in text
    assert "over all workers. (default: 50)" in text
    assert "(default: the destination's: https://event.gainsight.com, or PX's for --px_region)" in text
    assert "(default: $GAINSIGHT_PX_API_KEY)" in text
    assert "(the key would travel in clear). (default: off)" in text


def test_a_flag_missing_from_the_groups_still_shows_under_other():
    class WithANewFlag:
        @classmethod
        def _add_argparse_args(cls, parser):
            cli_help.SegmentToGainsightOptions._add_argparse_args(parser)
            parser.add_argument("--brand_new", type=int, default=7, help="Added later.")

    text = cli_help.job_parser(WithANewFlag).format_help()
    assert text.index("\nstreaming:\n") < text.index("\nother:\n") < text.index("--brand_new N")
    assert "Added later. (default: 7)" in text


def test_help_beam_prints_beams_full_help(capsys):
    assert run(["--help_beam"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: segment-to-gainsight ")
    for flag in ("--runner", "--project", "--region", "--temp_location", "--sdk_container_image",
                 "--input_subscription"):
        assert f"  {flag}" in text, flag


def test_version(capsys):
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"segment-to-gainsight {pipeline.__version__}\n"
    assert cli_help.version() == pipeline.__version__  # setup.py reads the same constant


def test_other_arguments_are_not_answered():
    assert cli_help.handle(["--input", "x.jsonl", "--preview", "out/p"]) is None
