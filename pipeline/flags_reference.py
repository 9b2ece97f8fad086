"""Writes docs/flags.md, the reference of every flag of the job, from the flags themselves.

    python -m pipeline.flags_reference          # rewrite docs/flags.md
    python -m pipeline.flags_reference --check  # exit 1 if it is out of date (the tests run this)

The headings, order, help texts and defaults are those of `--help` (pipeline.cli_help), so a flag
is described in one place, its help text, and the page cannot drift from the code.
"""
import argparse
import sys
from pathlib import Path

from pipeline import cli_help
from pipeline.generated_file import write_or_check

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "flags.md"

INTRO = """# Flags

Generated from the job's own flags by `python -m pipeline.flags_reference` (the same text as
`./run.sh --help`); a test fails when this page and the code disagree.

Beam's own flags (`--runner`, `--project`, `--region`, `--temp_location`, `--setup_file`,
`--direct_num_workers`, ...) pass through (`./run.sh --help_beam` lists them), except the local
`--direct_running_mode multi_threading`, which is refused because it loses events (see
[Performance](performance.md)). Unknown flags are an error, not a warning. A bad value fails at
start-up, before any data is read, with exit code 2 and a message naming the flag.
"""


def flag_cell(action) -> str:
    """'`--batch_size N`' from the action's option and metavar."""
    flag = action.option_strings[0]
    if action.nargs == 0:
        return f"`{flag}`"
    if action.metavar:
        metavar = action.metavar
    elif action.choices:
        metavar = "|".join(str(choice) for choice in action.choices)
    else:
        metavar = "N" if action.type in (int, float) else action.dest.upper()
    return f"`{flag} {metavar}`"


def cell(text: str) -> str:
    """Text fit for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole page: INTRO, then one table per heading of --help."""
    parser = parser or cli_help.job_parser()
    lines = [INTRO]
    for group in parser._action_groups:  # pylint: disable=protected-access
        actions = [action for action in group._group_actions  # pylint: disable=protected-access
                   if action.option_strings and action.dest not in ("help", "version")]
        if not actions:
            continue
        lines += [f"## {group.title[0].upper()}{group.title[1:]}", "",
                  "| Flag | Default | Meaning |", "|---|---|---|"]
        for action in actions:
            lines.append(f"| {flag_cell(action)} | {cell(cli_help.describe_default(action))} "
                         f"| {cell(action.help or '')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    return write_or_check(REFERENCE, render(), "python -m pipeline.flags_reference", argv)

if __name__ == "__main__":
    sys.exit(main())
