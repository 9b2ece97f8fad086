"""The delivery report without a browser: the data it is built from, the page's figures, keys
kept out, --report's start-up checks, and a report that cannot be written."""
import json
import re

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.main import EXIT_REPORT_FAILED, _report
from pipeline.options import ConfigError, resolve_config
from pipeline.report.data import SAMPLE_CHARS, dead_letter_groups, funnel, report_data, timeline
from pipeline.report.output import build_page
from pipeline.report.page import render
from pipeline.summary import build_summary
from tests.conftest import ACCESS_KEY
from transforms.common import counters

SUMMARY = build_summary({"read": 10, "invalid": 1, "filtered": 2, "delivered": 5, "dead_lettered": 2,
                         "by_type.track": 7, "unmapped": 1, "stitched": 2, "requests": 9,
                         "answers.2xx": 5, "answers.400": 2, "answers.5xx": 2,
                         "latency_ms.le_5": 8, "latency_ms.le_100": 1})


def page_figures(page: str, attribute: str) -> dict:
    """{name: value} of every <td data-ATTRIBUTE="name" data-value="n">."""
    return {name: int(value) for name, value in
            re.findall(rf'data-{attribute}="([^"]+)" data-value="(\d+)"', page)}


def config_for(tmp_path, *extra):
    source = tmp_path / "events.jsonl"
    source.write_text("{}\n")
    return resolve_config(PipelineOptions(["--input", str(source), "--dead_letter",
                                           str(tmp_path / "dl" / "dead-letter"), *extra]),
                          {"--access_key": ACCESS_KEY}, {})


def test_the_page_shows_the_summarys_funnel_and_answers():
    page = render(report_data(SUMMARY, {"destination": "gainsight"}, None, []))
    funnel_figures = page_figures(page, "funnel")
    assert funnel_figures == {name: SUMMARY[name] for name in ("read",) + counters.OUTCOMES}
    assert page_figures(page, "answer") == {"2xx": 5, "400": 2, "5xx": 2}


def test_an_outcome_added_later_appears_in_the_funnel_by_itself(monkeypatch):
    monkeypatch.setattr(counters, "OUTCOMES", counters.OUTCOMES + ("quarantined",))
    rows = funnel({"read": 4, "quarantined": 1, "delivered": 3})
    assert ("quarantined", 1, "left") in [(row["name"], row["count"], row["kind"]) for row in rows]
    page = render(report_data({"read": 4, "quarantined": 1, "delivered": 3}, {}, None, []))
    assert page_figures(page, "funnel")["quarantined"] == 1


def test_the_timeline_bars_hold_every_answer_and_coarsen_for_long_runs():
    per_second = {str(1000 + second): {"accepted": 2, "retried": 1} for second in range(0, 3600, 7)}
    bars = timeline(per_second, [[1100.0, 1130.0], [1120.0, 1200.0]])
    assert bars["bucket_seconds"] == 15 and len(bars["rows"]) <= 300
    assert sum(row[1] for row in bars["rows"]) == 2 * len(per_second)
    assert sum(row[2] for row in bars["rows"]) == len(per_second)
    assert bars["outages"] == [[100.0, 200.0]]            # the two shards' windows, merged


def test_the_page_escapes_what_it_shows_and_fetches_nothing():
    groups = [{"stage": "parse", "reason": "<b>bad</b>", "count": 1,
               "samples": ['{"raw":"<script>alert(1)</script>"}']}]
    page = render(report_data(SUMMARY, {"flags": ["--input", "<x>"]}, None, groups))
    assert "<script" not in page and "&lt;script&gt;" in page and "&lt;b&gt;bad" in page
    assert not re.search(r'(src|href)=|url\(|@import', page)


def test_the_key_is_in_no_part_of_the_page(tmp_path):
    config = config_for(tmp_path)
    (tmp_path / "dl").mkdir()
    record = {"stage": "deliver", "reason": f"HTTP 400: echoed {ACCESS_KEY}", "event": {"k": ACCESS_KEY}}
    (tmp_path / "dl" / "dead-letter-0.jsonl").write_text(json.dumps(record) + "\n")
    page = build_page(SUMMARY, config, {"started": 1.0, "flags": ["--access_key_secret", ACCESS_KEY]}, None)
    assert ACCESS_KEY not in page
    assert 'data-dead-letter-count="1"' in page and "echoed ***" in page


def test_a_key_that_a_sample_is_cut_across_leaves_nothing_of_itself():
    head = '{"stage": "deliver", "reason": "HTTP 400", "raw": "'
    record = head + "x" * (SAMPLE_CHARS - 10 - len(head)) + ACCESS_KEY + '"}'   # the cut falls inside the key
    (group,) = dead_letter_groups([record], (ACCESS_KEY,))
    assert ACCESS_KEY[:10] not in group["samples"][0]


def test_a_directory_gets_report_html(tmp_path):
    assert config_for(tmp_path, "--report", str(tmp_path)).report == f"{tmp_path}/report.html"
    assert config_for(tmp_path, "--report", "gs://b/runs/").report == "gs://b/runs/report.html"


@pytest.mark.parametrize("value, problem", [
    ("{file}/report.html", "is a file, not a directory"),
    ("gs://only-a-bucket", "expected gs://BUCKET/NAME"),
])
def test_a_bad_report_path_fails_at_start_up_naming_the_flag(tmp_path, value, problem):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as raised:
        config_for(tmp_path, "--report", value.format(file=tmp_path / "file"))
    assert str(raised.value).startswith("--report:") and problem in str(raised.value)


def test_report_with_no_wait_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="^--report: .*--no_wait"):
        config_for(tmp_path, "--report", str(tmp_path / "r.html"), "--no_wait")


def test_a_report_that_cannot_be_written_keeps_the_summary_says_so_and_exits_non_zero(tmp_path, capsys):
    config = config_for(tmp_path, "--report", str(tmp_path / "report.html"),
                        "--summary", str(tmp_path / "summary.json"))
    (tmp_path / "report.html").mkdir()          # appeared after start-up: the write fails
    code = _report(SUMMARY, config, {"started": 1.0}, None)
    printed = capsys.readouterr()
    assert code == EXIT_REPORT_FAILED == 6
    assert json.loads((tmp_path / "summary.json").read_text())["delivered"] == 5
    assert f"error: --report: could not write {tmp_path / 'report.html'}" in printed.err
    assert "the summary and the dead letters are written" in printed.err


def test_a_report_failure_does_not_hide_a_worse_exit_code(tmp_path, capsys):
    config = config_for(tmp_path, "--report", str(tmp_path / "report.html"))
    (tmp_path / "report.html").mkdir()
    unbalanced = dict(SUMMARY, balanced=False)
    assert _report(unbalanced, config, {}, None) == 1


def test_a_written_report_says_where(tmp_path, capsys):
    config = config_for(tmp_path, "--report", str(tmp_path / "out" / "r.html"))
    assert _report(SUMMARY, config, {"started": 1.0}, None) == 0
    assert f"report: {tmp_path / 'out' / 'r.html'}" in capsys.readouterr().out
    page = (tmp_path / "out" / "r.html").read_text()
    assert page_figures(page, "funnel")["delivered"] == 5
