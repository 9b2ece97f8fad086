"""--destination gainsight-px end to end: the real CLI against the sandbox in PX mode, over real
HTTP with Basic auth; what arrived, message by message."""
import contextlib
import socket

import pytest

from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess
from tests.conftest import ACCESS_KEY
from tests.e2e.cli import read_jsonl, run_cli, write_jsonl

PX_KEY = "AP-E2ETESTKEY7788-3"
WRONG_PX_KEY = "AP-NOTTHEKEY0000-1"
PX_PATH = "/rte/segmentio/v1/push"


@pytest.fixture
def px_sandbox(tmp_path):
    directory = tmp_path / "px-sandbox"
    directory.mkdir()
    with SandboxProcess(PX_KEY, FaultConfig(), directory=directory, destination="gainsight-px") as running:
        yield running


def px_export():
    """Each call type and consent case, with what PX must do with it in the comment."""
    return [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"accountId": "ACC-1"},
         "timestamp": "2024-11-01T10:00:00Z"},                                         # sent
        {"type": "page", "userId": "u1", "messageId": "p1", "name": "Pricing",
         "timestamp": "2024-11-01T10:05:00Z"},                                         # sent, ACC-1 from history
        {"type": "page", "userId": "u9", "messageId": "p2", "name": "Home",
         "properties": {"accountId": "ACC-9"}},                                        # sent, own account
        {"type": "page", "userId": "u1", "messageId": "p3", "name": "Docs",
         "integrations": {"Gainsight PX Cloud (Actions)": False}},                     # skipped
        {"type": "track", "userId": "u1", "messageId": "t1", "event": "Report Exported",
         "integrations": {"Gainsight": False}},                                        # sent: not PX's name
        {"type": "track", "userId": "u1", "messageId": "t2", "event": "Dashboard Viewed"},  # filtered (whitelist)
        {"type": "track", "userId": "u2", "messageId": "t3", "event": "Signed Up",
         "integrations": {"All": False, "Actions Gainsight PX Cloud": True}},          # sent
        {"type": "track", "userId": "u2", "messageId": "t4", "event": "Signed Up",
         "integrations": {"All": False, "Gainsight": True}},                           # skipped
        {"type": "group", "userId": "u3", "messageId": "g1", "groupId": "ACC-3"},      # sent
        {"type": "screen", "userId": "u3", "messageId": "s1", "name": "Home"},         # unsupported
        {"type": "alias", "userId": "u3", "previousId": "anon-3", "messageId": "a1"},  # unsupported
        {"type": "page", "userId": "u1", "messageId": "p1", "name": "Pricing",
         "timestamp": "2024-11-01T10:05:00Z"},                                         # duplicate
    ]


def run_px(tmp_path, endpoint, key=PX_KEY, extra=()):
    source = write_jsonl(tmp_path / "events.jsonl", px_export())
    return run_cli(["--input", str(source), "--destination", "gainsight-px", "--gainsight_endpoint", endpoint,
                    "--track_whitelist", "Signed Up,Report Exported", *extra], tmp_path / "out", px_api_key=key)


def test_px_receives_identify_group_track_and_page_once_each_with_their_account(px_sandbox, tmp_path):
    result = run_px(tmp_path, px_sandbox.url)
    assert result.code == 0, result.stderr
    received = {message["messageId"]: message for message in px_sandbox.received()}
    assert sorted(received) == ["g1", "i1", "p1", "p2", "t1", "t3"]
    assert len(px_sandbox.received()) == 6
    assert received["p1"]["properties"]["accountId"] == "ACC-1"
    assert received["p2"]["properties"]["accountId"] == "ACC-9"
    assert received["p1"]["name"] == "Pricing"
    summary = result.summary
    assert summary["by_type"] == {"track": 2, "identify": 1, "group": 1, "page": 2}
    assert summary["unsupported_by_type"]["page"] == 0
    assert (summary["unsupported"], summary["skipped_by_integrations"], summary["filtered"],
            summary["duplicates"], summary["delivered"]) == (2, 2, 1, 1, 6)
    assert summary["balanced"] and px_sandbox.stats()["key_checks"] == 1


def test_the_same_export_to_the_classic_destination_sends_no_pages(start_sandbox, tmp_path):
    classic = start_sandbox()
    source = write_jsonl(tmp_path / "events.jsonl", px_export())
    result = run_cli(["--input", str(source), "--gainsight_endpoint", classic.url,
                      "--track_whitelist", "Signed Up,Report Exported"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    # t1 opted out of "Gainsight"; t4 opted in by that name; pages are not the connector's
    # (p3's PX opt-out does not concern it, and p1's copy counts as what p1 is: unsupported).
    assert sorted(m["messageId"] for m in classic.received()) == ["g1", "i1", "t4"]
    assert result.summary["unsupported_by_type"]["page"] == 4


def test_a_rejected_px_key_exits_3_before_reading_and_sends_nothing(px_sandbox, tmp_path):
    result = run_px(tmp_path, px_sandbox.url, key=WRONG_PX_KEY)
    assert result.code == 3
    assert "--px_api_key" in result.stderr and "nothing was read or sent" in result.stderr
    assert px_sandbox.received() == [] and result.summary is None
    assert px_sandbox.stats()["unauthorized"] == 1


def test_a_px_endpoint_that_does_not_answer_is_a_clear_error(tmp_path):
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]        # closed again: connections are refused
    result = run_px(tmp_path, f"http://127.0.0.1:{port}", extra=("--max_retries", "1"))
    assert result.code == 5
    assert "key check" in result.stderr and "no usable answer" in result.stderr
    assert result.summary is None


@pytest.mark.parametrize("region, base", [("us", "https://segment-esp.aptrinsic.com"),
                                          ("eu", "https://segment-esp-eu.aptrinsic.com"),
                                          ("us2", "https://segment-esp-us2.aptrinsic.com")])
def test_preview_lines_carry_the_regions_url(tmp_path, region, base):
    source = write_jsonl(tmp_path / "events.jsonl", px_export())
    result = run_cli(["--input", str(source), "--destination", "gainsight-px", "--px_region", region,
                      "--track_whitelist", "Signed Up,Report Exported",
                      "--preview", str(tmp_path / "out" / "preview")], tmp_path / "out", px_api_key=PX_KEY)
    assert result.code == 0, result.stderr
    previews = read_jsonl(f"{tmp_path}/out/preview*.jsonl")
    assert {p["url"] for p in previews} == {base + PX_PATH}
    assert {p["path"] for p in previews} == {PX_PATH}
    assert sorted(p["body"]["messageId"] for p in previews) == ["g1", "i1", "p1", "p2", "t1", "t3"]


def test_the_px_key_is_never_printed_or_written(px_sandbox, tmp_path):
    result = run_px(tmp_path, px_sandbox.url, extra=("--preview", str(tmp_path / "out" / "preview")))
    (tmp_path / "sent").mkdir()
    (tmp_path / "rejected").mkdir()
    delivered = run_px(tmp_path / "sent", px_sandbox.url)
    rejected = run_px(tmp_path / "rejected", px_sandbox.url, key=WRONG_PX_KEY)
    assert result.code == 0 and delivered.code == 0 and rejected.code == 3
    written = "".join(path.read_text(errors="replace") for path in tmp_path.rglob("*")
                      if path.is_file() and "px-sandbox" not in path.parts)
    everything = written + "".join(run.stdout + run.stderr for run in (result, delivered, rejected))
    for key in (PX_KEY, WRONG_PX_KEY):
        assert key not in everything
        assert key.split("-")[1] not in everything


def test_dataflow_dry_runs_of_a_px_backfill_and_a_px_stream(tmp_path):
    dry_run = ["--runner=DataflowRunner", "--dry_run=True", "--no_auth", "--sdk_location=container",
               "--project=my-project", "--region=us-central1", "--temp_location=gs://my-bucket/tmp",
               "--setup_file", "./setup.py", "--destination", "gainsight-px", "--px_region", "eu",
               "--px_api_key_secret", "projects/my-project/secrets/px/versions/latest"]
    batch = run_cli(["--input", "gs://my-bucket/segment-logs/*/*/*.gz", *dry_run], tmp_path / "batch",
                    dead_letter="gs://my-bucket/dead-letter/dl")
    assert batch.code == 0, batch.stderr
    assert "dry run" in batch.stdout
    stream = run_cli(["--input_subscription", "projects/my-project/subscriptions/segment", *dry_run,
                      "--dead_letter_topic", "projects/my-project/topics/dl"], tmp_path / "stream",
                     summary=False)
    assert stream.code == 0, stream.stderr
