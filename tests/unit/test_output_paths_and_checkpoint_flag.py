"""Directories as outputs and inputs; --checkpoint's start-up checks (each error names the flag)."""
import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import ConfigError, resolve_config
from tests.conftest import ACCESS_KEY

SUBSCRIPTION = "projects/my-project/subscriptions/segment"


def resolve(argv):
    return resolve_config(PipelineOptions(argv), {"--access_key": ACCESS_KEY}, {})


def flag_error(argv) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve(argv)
    return caught.value


def test_output_directories_get_default_names_inside(events_file, tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    config = resolve(["--input", events_file, "--dead_letter", f"{tmp_path}/dl/",
                      "--summary", str(existing)])
    assert config.dead_letter == f"{tmp_path}/dl/dead-letter"
    assert config.summary == f"{existing}/summary.json"
    preview = resolve(["--input", events_file, "--preview", "gs://bucket/preview/"]).preview
    assert preview == "gs://bucket/preview/preview"


def test_output_prefixes_stay_as_given(events_file, tmp_path):
    config = resolve(["--input", events_file, "--dead_letter", f"{tmp_path}/dl/run1",
                      "--summary", f"{tmp_path}/s.json"])
    assert (config.dead_letter, config.summary) == (f"{tmp_path}/dl/run1", f"{tmp_path}/s.json")


def test_an_input_directory_reads_every_file_below_it(tmp_path):
    (tmp_path / "logs" / "day1").mkdir(parents=True)
    (tmp_path / "logs" / "day1" / "part.gz").write_bytes(b"")
    for given in (str(tmp_path / "logs"), f"{tmp_path}/logs/"):
        assert resolve(["--input", given]).inputs == (f"{tmp_path}/logs/**",)


def test_an_input_directory_of_only_hidden_files_is_an_error(tmp_path):
    (tmp_path / "logs" / ".staging").mkdir(parents=True)
    (tmp_path / "logs" / ".staging" / "part.gz").write_bytes(b"")
    (tmp_path / "logs" / ".DS_Store").write_bytes(b"")
    error = flag_error(["--input", str(tmp_path / "logs")])
    assert error.flag == "--input" and "holds no files" in str(error)


def test_checkpoint_is_made_with_its_manifest_at_start_up(events_file, tmp_path):
    config = resolve(["--input", events_file, "--checkpoint", f"{tmp_path}/ckpt/",
                      "--gainsight_endpoint", "http://127.0.0.1:8080/"])
    assert config.checkpoint == f"{tmp_path}/ckpt"
    assert json.loads((tmp_path / "ckpt" / "checkpoint.json").read_text()) == {
        "destination": "gainsight", "endpoint": "http://127.0.0.1:8080/clickstream/segmentio/event",
        "version": 1}


def test_checkpoint_of_another_endpoint_is_an_error_naming_the_flag(events_file, tmp_path):
    resolve(["--input", events_file, "--checkpoint", str(tmp_path / "ckpt")])
    error = flag_error(["--input", events_file, "--checkpoint", str(tmp_path / "ckpt"),
                        "--gainsight_endpoint", "http://127.0.0.1:8080"])
    assert error.flag == "--checkpoint"
    assert "written for destination gainsight at endpoint https://event.gainsight.com" in str(error)
    assert "use a new directory to start over" in str(error)


def test_checkpoint_with_a_stream_is_an_error(tmp_path):
    error = flag_error(["--input_subscription", SUBSCRIPTION, "--checkpoint", str(tmp_path / "ckpt")])
    assert error.flag == "--checkpoint" and "a stream needs no checkpoint" in str(error)
    assert not (tmp_path / "ckpt").exists()


def test_checkpoint_with_preview_is_an_error(events_file, tmp_path):
    error = flag_error(["--input", events_file, "--preview", str(tmp_path / "p"),
                        "--checkpoint", str(tmp_path / "ckpt")])
    assert error.flag == "--checkpoint" and "--preview" in str(error)


def test_checkpoint_on_dataflow_must_be_gcs(events_file, tmp_path):
    error = flag_error(["--input", events_file, "--runner", "DataflowRunner", "--dead_letter", "gs://b/dl",
                        "--checkpoint", str(tmp_path / "ckpt")])
    assert error.flag == "--checkpoint" and "gs://" in str(error)


def test_a_dry_run_does_not_touch_the_checkpoint(events_file, tmp_path):
    config = resolve(["--input", events_file, "--checkpoint", str(tmp_path / "ckpt"), "--dry_run=True"])
    assert config.checkpoint == str(tmp_path / "ckpt") and not (tmp_path / "ckpt").exists()
