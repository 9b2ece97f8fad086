"""The delivery report as a person sees it: the real CLI against a sandbox with injected faults
and an outage, on two worker processes, writes --report; Debian's headless chromium (network
blocked) opens it; the page's numbers are those of summary.json and of the sandbox's own counts."""
import json
import threading
import time

from tests.conftest import ACCESS_KEY
from tests.e2e.browser import Chromium, png_colors
from tests.e2e.cli import run_cli
from tests.e2e.test_guarantees import sendable_events, write_gz
from transforms.common.counters import OUTCOMES

RATE = 100
FAULTS = {"rate_503": 0.05, "rate_429": 0.03, "rate_400": 0.02, "retry_after_seconds": 0, "seed": 22}
INVALID_LINES = [b"not json", b'{"type": "track"}', b"[1, 2]", b'{"type": 7, "messageId": "x"}']

READ_PAGE = """(() => {
  const read = name => Object.fromEntries([...document.querySelectorAll(`[data-${name}]`)]
      .map(cell => [cell.getAttribute(`data-${name}`), Number(cell.textContent.replace(/,/g, ''))]));
  const bars = kind => [...document.querySelectorAll(`rect.${kind} title`)]
      .reduce((sum, title) => sum + Number(title.textContent.split(': ')[1].split(' ')[0]), 0);
  return {funnel: read('funnel'), answers: read('answer'), byType: read('by-type'),
          timeline: {accepted: bars('accepted'), retried: bars('retried'), failed: bars('failed')},
          outages: document.querySelectorAll('rect.outage').length,
          capLine: document.querySelectorAll('line.cap').length,
          text: document.body.innerText};
})()"""


def test_the_report_of_a_run_with_faults_and_an_outage_shows_its_numbers(start_sandbox, tmp_path):
    sandbox = start_sandbox(**FAULTS)
    events = list(sendable_events(1000, seed=22))
    write_gz(tmp_path / "events.gz", [json.dumps(e).encode() for e in events] + INVALID_LINES)
    report = tmp_path / "out" / "report.html"
    runs = []
    cli = threading.Thread(target=lambda: runs.append(run_cli(
        ["--input", str(tmp_path / "events.gz"), "--gainsight_endpoint", sandbox.url,
         "--max_requests_per_second", str(RATE), "--max_retries", "4",
         "--http_timeout_seconds", "2", "--report", str(report),
         "--direct_running_mode", "multi_processing", "--direct_num_workers", "2"],
        tmp_path / "out", ACCESS_KEY)))
    cli.start()
    # the outage starts while delivery is under way, however long the job took to start
    while cli.is_alive() and sandbox.stats()["accepted"] < 100:
        time.sleep(0.2)
    sandbox.set_faults(**FAULTS, outage_after_seconds=0.5, outage_seconds=4)
    cli.join()
    (result,) = runs
    assert result.code == 0, result.stderr
    assert f"report: {report}" in result.stdout
    summary, stats = result.summary, sandbox.stats()
    assert stats["outage"]["503"] + stats["outage"]["drop"] > 0 and summary["outages"] >= 1

    with Chromium(tmp_path / "chromium") as browser:
        seen = browser.open(report.as_uri(), READ_PAGE, screenshot=tmp_path / "report.png")
    page = seen.value
    assert seen.console_errors == [] and seen.requests == []

    # the funnel: every outcome of the summary, as summary.json has it
    assert page["funnel"] == {name: summary[name] for name in ("read",) + OUTCOMES}
    assert page["funnel"]["read"] == len(events) + len(INVALID_LINES)
    assert page["funnel"]["invalid"] == len(INVALID_LINES)
    # the answers: summary.json's, and what the sandbox itself counted
    assert page["answers"] == summary["answers"]
    assert page["answers"]["2xx"] == stats["accepted"] == summary["delivered"]
    assert page["answers"]["5xx"] == stats["injected"]["503"] + stats["outage"]["503"]
    assert page["answers"]["429"] == stats["injected"]["429"]
    assert page["answers"]["400"] == stats["injected"]["400"]
    assert page["answers"]["connection_error"] == stats["outage"]["drop"] + stats["injected"]["drop"]
    assert sum(page["answers"].values()) == summary["requests"]
    assert page["byType"] == summary["by_type"]
    # the timeline, carried from the worker process that delivered: every answer in a bar
    assert page["timeline"] == {
        "accepted": stats["accepted"],
        "retried": stats["injected"]["503"] + stats["injected"]["429"] + sum(
            stats["outage"][answer] for answer in ("503", "drop")),
        "failed": stats["injected"]["400"]}
    assert page["outages"] >= 1 and page["capLine"] == 1
    assert "Feature Used" in page["text"]                    # the top event name
    assert ACCESS_KEY not in report.read_text()

    colours, commonest, (width, height) = png_colors(tmp_path / "report.png")
    assert width == 1400 and height > 1000
    assert colours > 20 and commonest < 0.9                  # a page, not a blank


def test_a_report_path_that_cannot_be_made_fails_at_start_up_naming_the_flag(sandbox, tmp_path):
    write_gz(tmp_path / "events.gz", [json.dumps(e).encode() for e in sendable_events(5)])
    (tmp_path / "a-file").write_text("x")
    result = run_cli(["--input", str(tmp_path / "events.gz"), "--gainsight_endpoint", sandbox.url,
                      "--report", str(tmp_path / "a-file" / "report.html")], tmp_path / "out", ACCESS_KEY)
    assert result.code == 2
    assert result.stderr.startswith("configuration error: --report: cannot write")
    assert result.summary is None and sandbox.received() == []       # nothing was read or sent
