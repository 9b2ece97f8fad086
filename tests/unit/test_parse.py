"""parse_line: every kind of bad line is rejected with a reason that says what was wrong."""
import json

import pytest

from transforms.outputs.dead_letter import dead_letter_record
from transforms.stages.parse import DERIVED_ID_PREFIX, InvalidEvent, nesting_depth, parse_line

TRACK = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1",
         "properties": {"plan": "pro"}}


def line(obj) -> bytes:
    return json.dumps(obj).encode()


def reason(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_line(raw)
    return str(caught.value)


def test_valid_track_is_returned_as_parsed():
    assert parse_line(line(TRACK)) == TRACK


def test_utf8_bom_and_crlf_free_line_parse():
    assert parse_line(b"\xef\xbb\xbf" + line(TRACK)) == TRACK


def test_non_ascii_text_survives():
    event = dict(TRACK, properties={"city": "Zürich"})
    assert parse_line(line(event))["properties"]["city"] == "Zürich"


@pytest.mark.parametrize("raw, expected", [
    (b'{"type": "track", \xff}', "not UTF-8"),
    (b'{"type": "track", "userId": "u1"', "malformed JSON"),
    (b"[1, 2]", "JSON is an array, not an object"),
    (b'"just a string"', "JSON is a string, not an object"),
    (b"42", "JSON is a number, not an object"),
    (b"null", "JSON is null, not an object"),
    (b'{"type": "track", "event": "x", "userId": "u", "n": NaN}', "NaN is not valid JSON"),
    (b'{"type": "track", "event": "x", "userId": "u", "n": Infinity}', "Infinity is not valid JSON"),
    (b'{"userId": "u1"}', "missing type"),
    (b'{"type": 3, "userId": "u1"}', "type is not a string"),
    (b'{"type": "identify"}', "neither userId nor anonymousId"),
    (b'{"type": "identify", "userId": null, "anonymousId": ""}', "neither userId nor anonymousId"),
    (b'{"type": "identify", "userId": {"id": 1}}', "userId is an object, not a string"),
    (b'{"type": "track", "userId": "u1"}', "track without a non-empty string event"),
    (b'{"type": "track", "userId": "u1", "event": "  "}', "track without a non-empty string event"),
    (b'{"type": "track", "userId": "u1", "event": "x", "properties": [1]}', "properties is an array, not an object"),
    (b'{"type": "identify", "userId": "u1", "traits": "vip"}', "traits is a string, not an object"),
    (b'{"type": "group", "userId": "u1"}', "group without groupId"),
    (b'{"type": "identify", "userId": "u1", "messageId": 17}', "messageId is not a string"),
    (b'{"type": "identify", "userId": "u1", "messageId": "' + b"m" * 101 + b'"}', "longer than 100"),
    (b'{"type": "identify", "userId": "u1", "integrations": true}', "integrations is a boolean, not an object"),
    (b'{"type": "track", "event": "E", "userId": "u1", "p": {"s": "\\ud800"}}', "surrogate"),
    (b'{"type": "track", "event": "E", "userId": "u1", "p": {"huge": 1e400}}', "infinity"),
])
def test_bad_line_reason(raw, expected):
    assert expected in reason(raw)


def test_oversize_event_rejected_before_parsing():
    big = line(dict(TRACK, properties={"blob": "x" * 33_000}))
    assert "32 KB" in reason(big)


def test_deep_nesting_rejected():
    deep = b'{"type": "track", "userId": "u", "event": "e", "p": ' + b"[" * 200 + b"]" * 200 + b"}"
    assert "nested more than 64 levels" in reason(deep)


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth('{"a": "[[[[{{{{", "b": [1]}') == 2


def test_null_properties_count_as_absent():
    assert parse_line(line(dict(TRACK, properties=None)))["event"] == "Signed Up"


def test_event_without_message_id_gets_a_stable_derived_one():
    event = {"type": "track", "event": "Signed Up", "userId": "u1"}
    first = parse_line(line(event))["messageId"]
    again = parse_line(json.dumps(event, indent=2).replace("\n", " ").encode())["messageId"]
    other = parse_line(line(dict(event, userId="u2")))["messageId"]
    assert first.startswith(DERIVED_ID_PREFIX)
    assert first == again
    assert first != other


def test_dead_letter_record_with_event_replays_the_event():
    record = dead_letter_record("deliver", "HTTP 503", event=TRACK, status=503, attempts=4)
    assert parse_line(line(record)) == TRACK


def test_dead_letter_record_with_raw_line_is_parsed_again():
    record = dead_letter_record("parse", "whatever", raw=line(TRACK))
    assert parse_line(line(record)) == TRACK


def test_dead_letter_record_with_undecodable_raw_fails_again_with_the_original_line():
    record = dead_letter_record("parse", "not UTF-8", raw=b"\xff\xfe")
    assert record["raw_encoding"] == "base64"
    with pytest.raises(InvalidEvent) as caught:
        parse_line(line(record))
    assert "not UTF-8" in str(caught.value)
    assert caught.value.raw == b"\xff\xfe"   # dead-lettered again as itself, not wrapped twice
