"""Parse and validate one line of a Segment export into an event dict, or say why not.

>>> parse_line(b'{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1"}')["event"]
'Signed Up'
>>> try:
...     parse_line(b'{"type":"track","userId":"u1"}')
... except InvalidEvent as err:
...     print(err)
track without a non-empty string event
"""
import hashlib

import apache_beam as beam

from transforms.common import counters, tags
from transforms.outputs.dead_letter import dead_letter_record, raw_bytes
from transforms.common.jsonio import JsonError, dumps_canonical, loads_event

MAX_EVENT_BYTES = 32 * 1024  # Segment's limit for one message
MAX_NESTING = 64             # far beyond any real event; keeps every later stage safe
MAX_MESSAGE_ID_CHARS = 100
UTF8_BOM = b"\xef\xbb\xbf"
DERIVED_ID_PREFIX = "derived-"
OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


class InvalidEvent(ValueError):
    """A line that is not a valid Segment event; str() is the dead-letter reason.

    `raw` is set when the line to dead-letter is not the one read: a replayed dead-letter
    record that fails again is dead-lettered with its original line, not wrapped once more.
    """

    def __init__(self, reason: str, raw: bytes | None = None):
        super().__init__(reason)
        self.raw = raw


def parse_line(raw: bytes) -> dict:
    """One line (bytes, without its newline) -> a validated event with a messageId.

    A dead-letter record (see transforms.outputs.dead_letter) is unwrapped, so dead-letter files replay.
    Raises InvalidEvent with the reason.
    """
    obj = _decode_object(raw)
    if "type" not in obj and "stage" in obj and "reason" in obj:
        return unwrap_dead_letter(obj)
    validate_event(obj)
    return ensure_message_id(obj)


def _decode_object(raw: bytes) -> dict:
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {len(raw)} bytes, over Segment's 32 KB limit")
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidEvent(f"not UTF-8 text: undecodable byte at position {err.start}") from None
    if text.count("{") + text.count("[") > MAX_NESTING and nesting_depth(text) > MAX_NESTING:
        raise InvalidEvent(f"JSON nested more than {MAX_NESTING} levels deep")
    try:
        obj = loads_event(text)
    except JsonError as err:
        raise InvalidEvent(str(err)) from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"JSON is {_json_kind(obj)}, not an object")
    return obj


def unwrap_dead_letter(record: dict) -> dict:
    """The event a dead-letter record wraps, validated again; raw lines are parsed again."""
    if isinstance(record.get("event"), dict):
        event = record["event"]
        validate_event(event)
        return ensure_message_id(event)
    if isinstance(record.get("raw"), str):
        original = raw_bytes(record)
        try:
            return parse_line(original)
        except InvalidEvent as err:
            raise InvalidEvent(str(err), raw=err.raw if err.raw is not None else original) from None
    raise InvalidEvent("dead-letter record without an event or raw line to replay")


def validate_event(event: dict) -> None:
    """Raises InvalidEvent unless `event` meets the Segment Spec rules this job relies on."""
    call_type = event.get("type")
    if call_type is None:
        raise InvalidEvent("missing type")
    if not isinstance(call_type, str):
        raise InvalidEvent("type is not a string")
    user_ids = [_identifier(event, "userId"), _identifier(event, "anonymousId")]
    if user_ids == [None, None]:
        raise InvalidEvent("neither userId nor anonymousId")
    message_id = event.get("messageId")
    if message_id is not None:
        if not isinstance(message_id, str):
            raise InvalidEvent("messageId is not a string")
        if len(message_id) > MAX_MESSAGE_ID_CHARS:
            raise InvalidEvent(f"messageId longer than {MAX_MESSAGE_ID_CHARS} characters")
    for field in OBJECT_FIELDS:
        value = event.get(field)
        if value is not None and not isinstance(value, dict):
            if value == []:   # PHP's empty object: read as {} (read_empty_arrays_as_objects)
                event[field] = {}
                continue
            raise InvalidEvent(f"{field} is {_json_kind(value)}, not an object")
    if call_type == "track":
        name = event.get("event")
        if not isinstance(name, str) or not name.strip():
            raise InvalidEvent("track without a non-empty string event")
    elif call_type == "group" and _identifier(event, "groupId") is None:
        raise InvalidEvent("group without groupId")


def read_empty_arrays_as_objects(event: dict) -> dict:
    """PHP encodes an empty object as `[]` (Segment's docs show `"context": []`): such an
    object field is read as, and sent as, `{}` (in place). A non-empty array stays invalid.

    >>> read_empty_arrays_as_objects({"type": "track", "context": [], "properties": [1]})
    {'type': 'track', 'context': {}, 'properties': [1]}
    """
    for field in OBJECT_FIELDS:
        if event.get(field) == []:
            event[field] = {}
    return event


def _identifier(event: dict, field: str):
    """A present id (non-empty string or integer), None when absent; raises when mistyped."""
    value = event.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidEvent(f"{field} is {_json_kind(value)}, not a string")
    return value


def ensure_message_id(event: dict) -> dict:
    """Gives an event without messageId a deterministic one from its content (in place).

    Re-reading the same line always yields the same id, so deduplication also covers such events.
    """
    if not event.get("messageId"):
        event.pop("messageId", None)
        digest = hashlib.sha256(dumps_canonical(event)).hexdigest()[:32]
        event["messageId"] = DERIVED_ID_PREFIX + digest
    return event


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}]":
            depth -= 1
    return deepest


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_sourced(sourced_line, count):
    """(source, raw line) -> ((source, event), None), or (None, dead-letter record) with the
    reason and the raw line, counting `invalid`. The one rule ParseFn and the batch fusion
    (transforms.stages.prepare) apply.

    >>> parse_sourced((("f", 1), b'{"type":"page","userId":"u","messageId":"m"}'), print)[0][1]["type"]
    'page'
    >>> parse_sourced((("f", 2), b'[1]'), print)[1]["reason"]
    invalid
    'JSON is an array, not an object'
    """
    source, raw = sourced_line
    try:
        return (source, parse_line(raw)), None
    except InvalidEvent as err:
        count(counters.INVALID)
        return None, dead_letter_record("parse", str(err), raw=raw if err.raw is None else err.raw,
                                        source=f"{source[0]}:{source[1]}")


class ParseFn(counters.CountingDoFn):
    """(source, raw line) -> event; failures to DEAD_LETTER with the reason and the raw line."""

    def process(self, sourced_line):
        sourced, record = parse_sourced(sourced_line, self.count)
        if record is None:
            yield sourced
        else:
            yield beam.pvalue.TaggedOutput(tags.DEAD_LETTER, record)


class ParseEvents(beam.PTransform):
    """(source, bytes) lines -> {MAIN: (source, event), DEAD_LETTER: records}."""

    def expand(self, lines):
        results = lines | beam.ParDo(ParseFn()).with_outputs(tags.DEAD_LETTER, main=tags.MAIN)
        return {tags.MAIN: results[tags.MAIN], tags.DEAD_LETTER: results[tags.DEAD_LETTER]}
