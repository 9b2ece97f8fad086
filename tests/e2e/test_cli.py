"""The CLI end to end against the sandbox over real HTTP: what arrived, message by message."""
import gzip
import json

from tests.conftest import ACCESS_KEY, WRONG_KEY
from tests.e2e.cli import read_jsonl, run_cli, write_jsonl

OUTCOMES = ("invalid", "duplicates", "skipped_by_integrations", "unsupported", "filtered",
            "delivered", "dead_lettered", "previewed")


def events_for_every_rule():
    """A small export covering each rule, with the fate of each line in the comment."""
    return [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"accountId": "ACC-1", "email": "a@x.io"},
         "timestamp": "2024-11-01T10:00:00Z"},                                            # sent, own account
        {"type": "track", "userId": "u1", "messageId": "t1", "event": "order_completed",
         "timestamp": "2024-11-01T11:00:00.000+00:00"},                                   # sent, ACC-1 from history
        {"type": "track", "userId": "u1", "messageId": "t1", "event": "order_completed",
         "timestamp": "2024-11-01T11:00:00.000+00:00"},                                   # duplicate
        {"type": "track", "userId": "u2", "messageId": "t2", "event": "Dashboard Viewed"},  # filtered
        {"type": "track", "userId": "u2", "messageId": "t3", "event": "Signed Up",
         "integrations": {"Gainsight": False}},                                           # skipped
        {"type": "page", "userId": "u2", "messageId": "p1", "name": "Home"},              # unsupported
        {"type": "group", "userId": "u3", "messageId": "g1", "groupId": "ACC-3", "traits": {"name": "Initech"}},  # sent
        {"type": "track", "userId": "u4", "messageId": "t4", "event": "Signed Up"},       # sent, unmapped
        '{"type": "track", "userId": ',                                                   # invalid
        "",                                                                               # blank: not an event
    ]


def test_delivers_exactly_the_selected_messages_once_with_their_account(sandbox, tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      "--track_whitelist", "Order Completed,Signed Up"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    received = {m["messageId"]: m for m in sandbox.received()}
    assert sorted(received) == ["g1", "i1", "t1", "t4"]
    assert len(sandbox.received()) == 4
    assert received["t1"]["properties"] == {"accountId": "ACC-1"}
    assert received["i1"]["traits"] == {"accountId": "ACC-1", "email": "a@x.io"}
    assert received["g1"] == events_for_every_rule()[6]
    assert "accountId" not in received["t4"].get("properties", {})
    summary = result.summary
    assert {k: summary[k] for k in OUTCOMES} == {
        "invalid": 1, "duplicates": 1, "skipped_by_integrations": 1, "unsupported": 1, "filtered": 1,
        "delivered": 4, "dead_lettered": 0, "previewed": 0}
    assert summary["read"] == 9 and summary["balanced"] and summary["unmapped"] == 1
    assert summary["by_type"] == {"track": 2, "identify": 1, "group": 1, "page": 0}
    assert [(r["stage"], r["raw"]) for r in result.dead_letters] == [("parse", '{"type": "track", "userId": ')]
    assert "delivered" in result.stdout and "balanced" in result.stdout


def test_reads_segment_archive_layout_gzipped(sandbox, tmp_path):
    day = tmp_path / "segment-logs" / "SRC1" / "1730419200000"
    day.mkdir(parents=True)
    for part in range(2):
        lines = [json.dumps({"type": "track", "userId": f"u{part}", "messageId": f"m{part}-{n}", "event": "E"})
                 for n in range(3)]
        (day / f"part-{part}.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    result = run_cli(["--input", str(tmp_path / "segment-logs/*/*/*.gz"), "--gainsight_endpoint", sandbox.url],
                     tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert sorted(m["messageId"] for m in sandbox.received()) == [f"m{p}-{n}" for p in range(2) for n in range(3)]


def test_configuration_error_exits_2_naming_the_flag_before_reading(tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    result = run_cli(["--input", str(source)], tmp_path / "out", access_key="not-a-uuid")
    assert result.code == 2
    assert "--access_key" in result.stderr and "not-a-uuid" not in result.stderr
    assert result.summary is None and not (tmp_path / "out").exists()


def test_unknown_flag_is_an_error_not_a_warning(tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    result = run_cli(["--input", str(source), "--trak_whitelist", "A"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 2 and "--trak_whitelist" in result.stderr


def test_rejected_key_stops_delivery_dead_letters_every_event_and_is_never_written(sandbox, tmp_path):
    more = [{"type": "track", "userId": f"u{n}", "messageId": f"x{n}", "event": "Signed Up"} for n in range(60)]
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule() + more)
    out = tmp_path / "out"
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url, "--max_concurrent_requests", "4",
                      "--track_whitelist", "Order Completed,Signed Up"], out, WRONG_KEY)
    assert result.code == 3 and "--access_key" in result.stderr
    assert sandbox.received() == []
    assert sandbox.stats()["unauthorized"] <= 5 + 4          # it stopped trying soon after 5 in a row
    delivery_failures = [r for r in result.dead_letters if r["stage"] == "deliver"]
    assert len(delivery_failures) == 64
    assert {r["event"]["messageId"] for r in delivery_failures} >= {"g1", "i1", "t1", "t4"}
    assert all("--access_key" in r["reason"] for r in delivery_failures)
    assert result.summary["key_rejected"] >= 64 - 9 and result.summary["balanced"]
    everything = result.stdout + result.stderr + "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert WRONG_KEY not in everything and ACCESS_KEY not in everything


def test_dead_letters_replay_through_input(start_sandbox, sandbox, tmp_path):
    failing = start_sandbox(rate_400=1.0)   # every event refused: a permanent failure, not an outage
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    first = run_cli(["--input", str(source), "--gainsight_endpoint", failing.url,
                     "--track_whitelist", "Order Completed,Signed Up"], tmp_path / "first", ACCESS_KEY)
    assert first.summary["dead_lettered"] == 4
    replay = run_cli(["--input", str(tmp_path / "first" / "dead-letter*.jsonl"), "--gainsight_endpoint", sandbox.url,
                      "--track_whitelist", "Order Completed,Signed Up"], tmp_path / "second", ACCESS_KEY)
    assert replay.code == 0, replay.stderr
    received = {m["messageId"]: m for m in sandbox.received()}
    assert sorted(received) == ["g1", "i1", "t1", "t4"]
    assert received["t1"]["properties"]["accountId"] == "ACC-1"
    # The unparseable line is dead-lettered again, with the same raw text: nothing is lost.
    assert [r["raw"] for r in replay.dead_letters] == ['{"type": "track", "userId": ']


def test_preview_writes_requests_and_sends_nothing(sandbox, tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url, "--preview", str(tmp_path / "out" / "preview"),
                      "--track_whitelist", "Order Completed,Signed Up"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert sandbox.received() == []
    previews = read_jsonl(f"{tmp_path}/out/preview*.jsonl")
    assert sorted(p["body"]["messageId"] for p in previews) == ["g1", "i1", "t1", "t4"]
    assert {p["path"] for p in previews} == {"/clickstream/segmentio/event"}
    assert result.summary["previewed"] == 4 and result.summary["balanced"]
    assert ACCESS_KEY not in (tmp_path / "out").joinpath("summary.json").read_text() + str(previews)


DATAFLOW_DRY_RUN = ["--runner=DataflowRunner", "--dry_run=True", "--no_auth", "--sdk_location=container",
                    "--project=my-project", "--region=us-central1", "--temp_location=gs://my-bucket/tmp",
                    "--setup_file", "./setup.py"]


def test_dataflow_dry_run_translates_the_batch_graph(tmp_path):
    result = run_cli(["--input", "gs://my-bucket/segment-logs/*/*/*.gz", "--account_mapping", "gs://my-bucket/map.csv",
                      *DATAFLOW_DRY_RUN], tmp_path / "out", ACCESS_KEY, dead_letter="gs://my-bucket/dead-letter/dl")
    assert result.code == 0, result.stderr
    assert "dry run: the job graph was built and not submitted" in result.stdout
    assert ACCESS_KEY not in result.stdout + result.stderr


def test_dataflow_dry_run_of_a_backfill_with_a_gcs_checkpoint(tmp_path):
    result = run_cli(["--input", "gs://my-bucket/segment-logs/", "--checkpoint", "gs://my-bucket/ckpt/",
                      "--max_outage_minutes", "30", *DATAFLOW_DRY_RUN], tmp_path / "out", ACCESS_KEY,
                     dead_letter="gs://my-bucket/dead-letter/")
    assert result.code == 0, result.stderr
    assert "dry run: the job graph was built and not submitted" in result.stdout
    local = run_cli(["--input", "gs://my-bucket/segment-logs/", "--checkpoint", str(tmp_path / "ckpt"),
                     *DATAFLOW_DRY_RUN], tmp_path / "out2", ACCESS_KEY, dead_letter="gs://my-bucket/dl/")
    assert local.code == 2 and "--checkpoint: on Dataflow it must be a gs:// directory" in local.stderr


def test_dataflow_refuses_a_local_dead_letter_prefix(tmp_path):
    result = run_cli(["--input", "gs://my-bucket/x/*.gz", *DATAFLOW_DRY_RUN], tmp_path / "out", ACCESS_KEY)
    assert result.code == 2 and "--dead_letter" in result.stderr


def test_dataflow_dry_run_translates_the_streaming_graph(tmp_path):
    result = run_cli(["--input_subscription", "projects/my-project/subscriptions/segment",
                      "--dead_letter_topic", "projects/my-project/topics/segment-dead-letter",
                      "--access_key_secret", "projects/my-project/secrets/gainsight/versions/latest",
                      "--sink_parallelism", "4", "--enable_streaming_engine", *DATAFLOW_DRY_RUN],
                     tmp_path / "out", access_key=None, dead_letter="gs://my-bucket/dl/dead-letter", summary=False)
    assert result.code == 0, result.stderr
    assert "dry run: the job graph was built and not submitted" in result.stdout


def test_dataflow_dry_run_streaming_from_a_topic_with_dead_letter_files(tmp_path):
    result = run_cli(["--input_topic", "projects/my-project/topics/segment", *DATAFLOW_DRY_RUN],
                     tmp_path / "out", ACCESS_KEY, dead_letter="gs://my-bucket/dl/dead-letter", summary=False)
    assert result.code == 0, result.stderr


def test_summary_goes_into_a_directory_that_does_not_exist_yet(tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", events_for_every_rule())
    summary = tmp_path / "reports" / "2026-11" / "summary.json"
    result = run_cli(["--input", str(source), "--preview", str(tmp_path / "out" / "p"), "--summary", str(summary)],
                     tmp_path / "out", summary=False)
    assert result.code == 0, result.stderr
    # Without a whitelist "Dashboard Viewed" (t2) is sent too: i1, t1, t2, g1, t4.
    assert json.loads(summary.read_text())["previewed"] == 5
