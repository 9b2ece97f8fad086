"""--checkpoint through the real CLI: made at start-up, refused for another endpoint or a stream."""
import json

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import run_cli, write_jsonl


def test_a_checkpoint_of_another_endpoint_is_a_configuration_error_before_reading(tmp_path, sandbox):
    source = write_jsonl(tmp_path / "events.jsonl", [{"type": "track", "userId": "u", "messageId": "m1", "event": "E"}])
    checkpoint = tmp_path / "ckpt"
    first = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url, "--checkpoint", f"{checkpoint}/"],
                    tmp_path / "out1", ACCESS_KEY)
    assert first.code == 0, first.stderr
    url = sandbox.url + "/clickstream/segmentio/event"
    assert json.loads((checkpoint / "checkpoint.json").read_text()) == {
        "destination": "gainsight", "endpoint": url, "version": 1}
    second = run_cli(["--input", str(source), "--gainsight_endpoint", "http://127.0.0.1:9",
                      "--checkpoint", str(checkpoint)], tmp_path / "out2", ACCESS_KEY)
    assert second.code == 2
    assert "--checkpoint" in second.stderr and f"at endpoint {url}" in second.stderr
    assert "use a new directory to start over" in second.stderr and second.summary is None


def test_a_checkpoint_of_another_destination_is_a_configuration_error(tmp_path, sandbox):
    source = write_jsonl(tmp_path / "events.jsonl", [{"type": "track", "userId": "u", "messageId": "m1", "event": "E"}])
    checkpoint = tmp_path / "ckpt"
    first = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url, "--checkpoint", str(checkpoint)],
                    tmp_path / "out1", ACCESS_KEY)
    assert first.code == 0, first.stderr
    second = run_cli(["--input", str(source), "--destination", "gainsight-px", "--gainsight_endpoint", sandbox.url,
                      "--checkpoint", str(checkpoint)], tmp_path / "out2", px_api_key="AP-SOMEKEY1234-1")
    assert second.code == 2
    assert "--checkpoint" in second.stderr and "written for destination gainsight at" in second.stderr


def test_a_stream_with_a_checkpoint_is_a_configuration_error(tmp_path):
    result = run_cli(["--input_subscription", "projects/my-project/subscriptions/s",
                      "--checkpoint", str(tmp_path / "ckpt")], tmp_path / "out", ACCESS_KEY, summary=False)
    assert result.code == 2 and "--checkpoint: a stream needs no checkpoint" in result.stderr
