"""--destination_filters, --transform, --from / --to at start-up: what the job is given, and each
bad value refused naming its flag."""
import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import ConfigError, resolve_config
from tests.conftest import ACCESS_KEY


def resolve(argv):
    return resolve_config(PipelineOptions(argv), {"--access_key": ACCESS_KEY}, {})


def refused(argv) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve(argv)
    return caught.value


@pytest.fixture
def archive(tmp_path):
    """Segment's layout: two day folders (2024-11-01, 2024-11-02)."""
    for day in ("1730419200000", "1730505600000"):
        folder = tmp_path / "segment-logs" / "SRC" / day
        folder.mkdir(parents=True)
        (folder / "part.jsonl").write_text('{"type":"track","event":"A","userId":"u","messageId":"m"}\n')
    return str(tmp_path / "segment-logs")


def test_the_job_gets_the_filters_text_the_transform_source_and_the_window(archive, tmp_path):
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps([{"title": "T", "if": "type = 'page'", "actions": [{"type": "DROP"}]}]))
    script = tmp_path / "t.py"
    script.write_text("def keep(event):\n    return event\n")
    config = resolve(["--input", archive, "--destination_filters", str(filters), "--transform", f"{script}:keep",
                      "--window_from", "2024-11-01T12:00:00+02:00", "--to", "2024-11-02"])
    assert json.loads(config.destination_filters)[0]["title"] == "T"
    assert (config.transform.function, config.transform.source) == ("keep", script.read_text())
    assert (config.window.start, config.window.end) == (1730455200.0, 1730505600.0)


def test_a_window_that_holds_no_day_folder_is_refused(archive):
    error = refused(["--input", archive, "--from", "2024-12-01"])
    assert error.flag == "--from / --to" and "no day folder" in str(error)


def test_without_the_flags_nothing_changes(archive):
    config = resolve(["--input", archive])
    assert (config.destination_filters, config.transform, config.window) == (None, None, None)


@pytest.mark.parametrize("argv,flag", [
    (["--from", "2024-13-01"], "--from"),
    (["--to", "soon"], "--to"),
    (["--from", "2024-11-02", "--to", "2024-11-02"], "--to"),
    (["--destination_filters", "/nonexistent/filters.json"], "--destination_filters"),
    (["--transform", "/nonexistent/t.py:f"], "--transform"),
    (["--transform", "t.txt:f"], "--transform"),
])
def test_bad_values_name_their_flag(archive, argv, flag):
    assert refused(["--input", archive, *argv]).flag == flag
