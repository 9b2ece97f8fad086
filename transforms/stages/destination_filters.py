"""Segment's destination filters: the filters a destination has in Segment, exported from its
Public API, applied to each event as Segment applies them.

    [{"title": "No test users", "if": "match(userId, 'test-*')", "enabled": true,
      "actions": [{"type": "DROP"}]},
     {"title": "No emails", "if": "type = 'identify'", "enabled": true,
      "actions": [{"type": "DROP_PROPERTIES", "fields": {"traits": ["email"]}}]}]

>>> filters = parse_filters('[{"title": "No test users", "if": "match(userId, \\'test-*\\')", '
...                         '"actions": [{"type": "DROP"}]}]')
>>> apply_filters({"userId": "test-1"}, filters), apply_filters({"userId": "u1"}, filters)
((None, 'No test users'), ({'userId': 'u1'}, None))

The file is the Public API's list of a destination's filters (a JSON list, or the API's answer
`{"data": {"filters": [...]}}`). A filter applies its actions to the events its `if` (FQL,
transforms.stages.fql) is true for; a disabled one (`"enabled": false`) is checked, not applied.
Every filter's `if` is evaluated on the event as it arrived; then the actions of the filters that
matched run in Segment's order: every SAMPLE, then DROP, then DROP_PROPERTIES, then
ALLOW_PROPERTIES (segment-docs destination-filters.md). An "Only send" filter of Segment's app is
a DROP whose `if` is negated.

- SAMPLE {percent 0..1, path?}: keeps the event when sample_fraction(value at `path`) < percent
  (segmentio/tsub-js sampleConsistentPercent: the MD5 digest of the value's JSON text read as a
  binary fraction); the same value is kept or dropped together, and what 30% keeps, 60% keeps
  too. Without a path Segment draws at random; here the messageId is the path, so a re-run or a
  resumed backfill keeps the same events (and the share is the same).
- DROP: the event is not sent.
- DROP_PROPERTIES {fields: {"properties": ["email"], "": ["context"]}}: removes the named keys of
  the object at each path ("" is the event itself; a path to a list acts on each object in it).
- ALLOW_PROPERTIES {fields: {...}}: keeps only the named keys of the object at each path.
"""
import hashlib
import json
import math
from dataclasses import dataclass

import apache_beam as beam

from transforms.common import counters
from transforms.stages.fql import FqlError, compile_fql, js_json, value_at

SAMPLE, DROP, DROP_PROPERTIES, ALLOW_PROPERTIES = "SAMPLE", "DROP", "DROP_PROPERTIES", "ALLOW_PROPERTIES"
ACTION_ORDER = (SAMPLE, DROP, DROP_PROPERTIES, ALLOW_PROPERTIES)
# Without a `path`, a SAMPLE samples on the messageId (see the module's docstring).
DEFAULT_SAMPLE_PATH = "messageId"
_MASK64 = (1 << 64) - 1


class FilterError(ValueError):
    """A filter that cannot be used; str() names the filter by its title and says why."""


@dataclass(frozen=True)
class Action:
    type: str
    percent: float = 1.0
    path: tuple = ()
    fields: tuple = ()   # ((path segments, frozenset of keys), ...)


@dataclass(frozen=True)
class Filter:
    title: str
    expression: str
    enabled: bool
    actions: tuple
    matches: object   # event -> bool (transforms.stages.fql.compile_fql)


def parse_filters(text: str) -> tuple:
    """The filters of a Public API export (JSON text), in file order; FilterError naming the
    filter (by title, else its place in the list) and what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError as err:
        raise FilterError(f"not JSON: {err}") from None
    if isinstance(document, dict):
        document = (document.get("data") or document).get("filters")
    if not isinstance(document, list):
        raise FilterError("expected a JSON list of filters (or the Public API's "
                          "{\"data\": {\"filters\": [...]}})")
    return tuple(_filter(item, number) for number, item in enumerate(document, 1))


def _filter(item, number: int) -> Filter:
    if not isinstance(item, dict):
        raise FilterError(f"filter #{number}: expected an object")
    title = item.get("title")
    name = f"filter {title!r}" if isinstance(title, str) and title else f"filter #{number}"
    if not isinstance(title, str) or not title.strip():
        raise FilterError(f"{name}: needs a `title` (its drops are counted under it)")
    expression = item.get("if")
    if not isinstance(expression, str):
        raise FilterError(f"{name}: needs an `if` (an FQL expression)")
    try:
        matches = compile_fql(expression)
    except FqlError as err:
        raise FilterError(f"{name}: `if` {err}: {expression}") from None
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FilterError(f"{name}: `enabled` must be true or false")
    actions = item.get("actions")
    if not isinstance(actions, list) or not actions:
        raise FilterError(f"{name}: needs a non-empty list of `actions`")
    return Filter(title, expression, enabled, tuple(_action(a, name) for a in actions), matches)


def _action(item, name: str) -> Action:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind not in ACTION_ORDER:
        raise FilterError(f"{name}: unknown action {kind!r} (expected one of "
                          f"{', '.join(ACTION_ORDER)})")
    if kind == SAMPLE:
        percent = item.get("percent")
        if type(percent) not in (int, float) or not 0 <= percent <= 1:
            raise FilterError(f"{name}: SAMPLE needs a `percent` from 0 to 1, got {percent!r}")
        path = item.get("path") or DEFAULT_SAMPLE_PATH
        if not isinstance(path, str):
            raise FilterError(f"{name}: SAMPLE's `path` must be a string")
        return Action(kind, percent=float(percent), path=tuple(path.split(".")))
    if kind == DROP:
        return Action(kind)
    fields = item.get("fields")
    if isinstance(fields, str):   # Terraform's jsonencode()d form
        try:
            fields = json.loads(fields)
        except ValueError:
            fields = None
    if (not isinstance(fields, dict) or not fields
            or not all(isinstance(keys, list) and all(isinstance(k, str) for k in keys)
                       for keys in fields.values())):
        raise FilterError(f"{name}: {kind} needs `fields`: an object of paths to lists of "
                          "field names, such as {\"properties\": [\"email\"]}")
    return Action(kind, fields=tuple((tuple(path.split(".")) if path else (), frozenset(keys))
                                     for path, keys in fields.items()))


def active(filters) -> tuple:
    """The enabled filters."""
    return tuple(f for f in filters if f.enabled)


def apply_filters(event: dict, filters) -> tuple:
    """(event to send, None), or (None, title of the filter that dropped it). The event is
    changed only through a copy, and only when a property action applies."""
    matched = [f for f in filters if f.matches(event)]
    if not matched:
        return event, None
    for f in matched:
        for action in f.actions:
            if action.type == SAMPLE and not keeps(event, action):
                return None, f.title
    for f in matched:
        if any(action.type == DROP for action in f.actions):
            return None, f.title
    changed, fresh = None, set()
    for kind in (DROP_PROPERTIES, ALLOW_PROPERTIES):
        for f in matched:
            for action in f.actions:
                if action.type == kind:
                    if changed is None:
                        changed = dict(event)
                        fresh.add(id(changed))
                    _filter_properties(changed, action, fresh)
    return (event if changed is None else changed), None


def keeps(event: dict, action: Action) -> bool:
    """A SAMPLE action's verdict on `event`."""
    if action.percent <= 0:
        return False
    if action.percent >= 1:
        return True
    return sample_fraction(value_at(event, action.path)) < action.percent


def sample_fraction(value) -> float:
    """The value's place in [0, 1) for deterministic sampling (tsub-js sampleConsistentPercent):
    the MD5 digest of its JSON text (JSON.stringify's: strings quoted, missing as null), its
    first 8 bytes a 64-bit binary fraction; leading zero bits are shifted out and filled from
    the next 8 bytes, the lowest bit is set, and the result is the float nearest.

    >>> round(sample_fraction("user-1"), 6)
    0.717011
    """
    digest = hashlib.md5(js_json(value).encode("utf-8", "surrogatepass")).digest()
    significand = int.from_bytes(digest[:8], "big")
    exponent = -64
    leading_zeros = 64 - significand.bit_length()
    if leading_zeros:
        exponent -= leading_zeros
        significand = ((significand << leading_zeros) & _MASK64) | (
            int.from_bytes(digest[8:16], "big") >> (64 - leading_zeros))
    return math.ldexp(float(significand | 1), exponent)


def _own(value, fresh: set):
    """`value` itself if this apply made it (its id is in `fresh`), else a copy of it (dicts
    and lists one level deep; a list's dicts copied too, as an action acts on each of them)."""
    if id(value) in fresh:
        return value
    if isinstance(value, dict):
        value = dict(value)
    elif isinstance(value, list):
        value = [_own(item, fresh) if isinstance(item, dict) else item for item in value]
    else:
        return value
    fresh.add(id(value))
    return value


def _owned_target(event: dict, path: tuple, fresh: set):
    """The value at `path` in `event`, each container on the way copied once (copy on write:
    the input event is never changed, and what no action touches is shared, not copied)."""
    parent = event
    for key in path:
        if isinstance(parent, dict):
            if key not in parent:
                return None
            child = _own(parent[key], fresh)
            parent[key] = child
        elif isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
            child = _own(parent[int(key)], fresh)
            parent[int(key)] = child
        else:
            return None
        parent = child
    return parent


def _filter_properties(event: dict, action: Action, fresh: set) -> None:
    for path, keys in action.fields:
        if path and not isinstance(value_at(event, path), (dict, list)):
            continue   # nothing to act on: nothing is copied
        target = _owned_target(event, path, fresh) if path else event
        for obj in (target if isinstance(target, list) else (target,)):
            if not isinstance(obj, dict):
                continue
            if action.type == DROP_PROPERTIES:
                for key in keys & obj.keys():
                    del obj[key]
            else:
                for key in [k for k in obj if k not in keys]:
                    del obj[key]


def filter_check(filters):
    """-> apply(event, count): the event to send on (changed by property actions, or as it
    was), or None for an event a filter dropped, counted dropped_by_filter and
    dropped_by_filter.<title>. The one rule KeepFilteredFn and the batch fusion
    (transforms.stages.prepare) apply; only the enabled filters act."""
    enabled = active(filters)
    named = {f.title: counters.dropped_by_filter(f.title) for f in enabled}

    def apply(event: dict, count):
        sent, title = apply_filters(event, enabled)
        if sent is None:
            count(counters.DROPPED_BY_FILTER)
            count(named[title])
        return sent
    return apply


class KeepFilteredFn(counters.CountingDoFn):
    """(origin, event) -> (origin, event as the filters leave it); dropped events counted."""

    def __init__(self, filters_text: str):
        self._text = filters_text   # the filters travel as their JSON and are compiled per worker

    def setup(self):
        self._apply = filter_check(parse_filters(self._text))

    def process(self, sourced):
        event = self._apply(sourced[1], self.count)
        if event is not None:
            yield sourced if event is sourced[1] else (sourced[0], event)


class ApplyDestinationFilters(beam.PTransform):
    """(origin, event) pairs -> the same, less the events the filters drop, with the
    properties they remove removed (`filters_text`: the --destination_filters file's JSON)."""

    def __init__(self, filters_text: str):
        super().__init__()
        self._text = filters_text

    def expand(self, events):
        return events | beam.ParDo(KeepFilteredFn(self._text))
