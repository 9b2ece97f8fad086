"""The manual stays walkable and true: README is a front page, every link resolves, the flags
reference is the code's, and no page tells the project's own history."""
import re
from pathlib import Path

import pytest

from pipeline import flags_reference

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "samples" / "README.md",
                *(ROOT / "docs").glob("*.md")])
MANUAL = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
HISTORY = re.compile(r"\bissue\s*#?\d+|\bissues?\s+\d+|\bissue's\b|\b(first|second|third|previous|last|"
                     r"this|next) (round|release)\b|\bthis session\b|\bthe previous commit\b", re.I)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: 'Crashes and resuming (`--checkpoint`)' -> 'crashes-and-resuming---checkpoint'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [a or b for a, b in LINK.findall(text)]


def broken_links(page: Path) -> list[str]:
    """Every relative link of `page` whose file, or heading, does not exist."""
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ... are not this repository's
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    return broken


def test_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_resolves(page):
    assert broken_links(page) == []


def test_every_chapter_is_linked_from_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    assert [page.name for page in (ROOT / "docs").glob("*.md") if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", MANUAL, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_manual_tells_no_project_history(page):
    assert [match.group(0) for match in HISTORY.finditer(page.read_text())] == []


def test_the_flags_reference_is_the_codes():
    assert flags_reference.main(["--check"]) == 0


def test_every_flag_is_in_the_reference_once():
    from pipeline.cli_help import job_flags
    text = (ROOT / "docs" / "flags.md").read_text()
    for action in job_flags():
        if action.option_strings:
            assert text.count(f"| `{action.option_strings[0]} ") + text.count(
                f"| `{action.option_strings[0]}` ") == 1, action.option_strings[0]


def test_a_broken_link_and_a_missing_heading_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A heading\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading) [no file](gone.md) [no heading](other.md#nope) "
                    "[web](https://example.com/x) ![img](missing.png)\n")
    assert broken_links(page) == ["gone.md", "other.md#nope", "missing.png"]


def test_history_is_found():
    assert HISTORY.search("as the previous release did") and HISTORY.search("since issue 15")
    assert not HISTORY.search("median of 3 alternating rounds")
