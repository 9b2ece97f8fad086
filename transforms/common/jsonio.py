"""Strict, fast JSON for events: orjson on the hot path, the standard library for its rare misses.

>>> loads_event('{"type": "track"}')
{'type': 'track'}
>>> dumps_compact({"a": 1, "b": [1, 2]})
'{"a":1,"b":[1,2]}'
"""
import json

import orjson


class JsonError(ValueError):
    """A line that is not acceptable JSON; str() says what was wrong."""


def _reject_constant(name):
    raise JsonError(f"{name} is not valid JSON")


def loads_event(text: str):
    """Parses strict JSON; raises JsonError with a reason a person can act on.

    orjson decides what is valid: it also refuses NaN/Infinity, numbers that overflow a double
    (1e400) and unpaired surrogate escapes ("\\ud800"), which the standard library would let
    through to fail later. The standard library is asked only for a clearer reason.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as err:
        orjson_reason = str(err)
    if "depth limit" in orjson_reason:
        raise JsonError("JSON nested too deeply to parse")
    try:
        json.loads(text, parse_constant=_reject_constant)
    except JsonError:
        raise
    except RecursionError:
        raise JsonError("JSON nested too deeply to parse") from None
    except json.JSONDecodeError as err:
        raise JsonError(f"malformed JSON: {err}") from None
    raise JsonError(f"invalid JSON: {orjson_reason}")


def dumps_compact(obj) -> str:
    """Compact JSON text, non-ASCII kept as is."""
    try:
        return orjson.dumps(obj).decode("utf-8")
    except TypeError:  # e.g. an integer beyond 64 bits, which only the stdlib can write
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def dumps_canonical(obj) -> bytes:
    """Key-sorted compact JSON bytes: the same content always gives the same bytes."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def pack(event: dict) -> bytes:
    """An event as compact JSON bytes, to cross a shuffle: the local runner holds grouped values
    as decoded objects, and a ~850-byte event is ~5 KB as a dict but ~0.9 KB as bytes."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return dumps_compact(event).encode("utf-8")


def unpack(data: bytes) -> dict:
    """The event pack() wrote."""
    return orjson.loads(data)
