"""A corpus of malformed lines (one per kind), each with the words its dead-letter reason must contain."""
import json

GOOD = {"type": "track", "event": "Signed Up", "userId": "u-good"}

BAD_LINES = [
    (b'{"type": "track", "event": "Signed Up", "userId": "u1"', "malformed JSON"),           # truncated
    (b'{"type": "track", "event": "Caf\xe9", "userId": "u1"}', "not UTF-8"),                  # latin-1 byte
    (b"\x00\x01\x02\xff\xfe binary", "not UTF-8"),                                             # binary
    (b'[{"type": "track"}]', "array, not an object"),
    (b'"a string"', "string, not an object"),
    (b"12345", "number, not an object"),
    (b"null", "null, not an object"),
    (b"true", "boolean, not an object"),
    (b'{"event": "Signed Up", "userId": "u1"}', "missing type"),
    (b'{"type": ["track"], "userId": "u1"}', "type is not a string"),
    (b'{"type": "track", "event": "Signed Up"}', "neither userId nor anonymousId"),
    (b'{"type": "track", "event": "Signed Up", "userId": null, "anonymousId": null}', "neither userId nor anonymousId"),
    (b'{"type": "track", "event": "Signed Up", "userId": 3.5}', "userId is a number, not a string"),
    (b'{"type": "track", "userId": "u1"}', "track without a non-empty string event"),
    (b'{"type": "track", "event": 7, "userId": "u1"}', "track without a non-empty string event"),
    (b'{"type": "track", "event": "Signed Up", "userId": "u1", "properties": "x"}', "properties is a string"),
    (b'{"type": "identify", "userId": "u1", "traits": [1]}', "traits is an array"),
    (b'{"type": "group", "userId": "u1", "traits": {}}', "group without groupId"),
    (b'{"type": "track", "event": "Signed Up", "userId": "u1", "p": NaN}', "NaN is not valid JSON"),
    (b'{"type": "track", "event": "Signed Up", "userId": "u1", "p": -Infinity}', "Infinity is not valid JSON"),
    (json.dumps({**GOOD, "properties": {"blob": "x" * 40_000}}).encode(), "32 KB"),
    (b'{"type": "track", "event": "E", "userId": "u", "p": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested"),
    (b'{"type": "track", "event": "E", "userId": "u", "messageId": 12}', "messageId is not a string"),
    (b"{'type': 'track'}", "malformed JSON"),                                                  # single quotes
    (b'{"type": "track", "event": "E", "userId": "u", "p": "\\ud800"}', "surrogate"),          # lone surrogate escape
    (b'{"type": "track", "event": "E", "userId": "u", "p": 1e400}', "infinity"),                # overflows a double
    (b'{"type": "track", "event": "E", "userId": "u"} trailing', "malformed JSON"),
]


def corpus_lines(good_count: int = 10):
    """(lines of a file mixing good and bad lines, the good messageIds).

    Good lines use CRLF endings, a UTF-8 BOM and blank lines too, which are not errors.
    """
    lines, good_ids = [b"\xef\xbb\xbf" + json.dumps({**GOOD, "messageId": "good-bom"}).encode()], ["good-bom"]
    for n, (bad, _) in enumerate(BAD_LINES):
        lines.append(bad)
        if n < good_count:
            good_ids.append(f"good-{n}")
            lines.append(json.dumps({**GOOD, "messageId": f"good-{n}"}).encode() + b"\r")
        lines.append(b"   ")
    return lines, good_ids
