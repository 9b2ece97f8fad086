"""Fixtures of the unit tests."""
import pytest


@pytest.fixture
def events_file(tmp_path):
    """An input file of one event, for the flags' checks (an --input must match a file)."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"type":"track","event":"A","userId":"u","messageId":"t1"}\n')
    return str(path)
