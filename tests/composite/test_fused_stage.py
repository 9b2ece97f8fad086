"""Batch's ParseToUser (one DoFn) gives what the separate steps give: the same keyed events,
copy rows, link table, dead letters and counters."""
import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from transforms import tags
from transforms.consent import FilterConsent
from transforms.enrich import COPIES, KeyByUserFn
from transforms.identity import LinkIdentities
from transforms.jsonio import unpack
from transforms.parse import ParseEvents
from transforms.prepare import EVENTS, LINKS, ParseToUser
from transforms.route import RouteByCallType
from transforms.whitelist import FilterWhitelist

NAMES = ("Gainsight",)
TYPES = ("track", "identify", "group")
WHITELIST = "Signed Up"

LINES = [
    {"type": "track", "event": "Signed Up", "userId": "u1", "anonymousId": "a1", "messageId": "m1"},
    {"type": "track", "event": "signed_up", "anonymousId": "a2", "messageId": "m2"},
    {"type": "track", "event": "Not Listed", "userId": "u2", "anonymousId": "a2", "messageId": "m3"},
    {"type": "identify", "userId": "u1", "traits": {"accountId": "A"}, "messageId": "m4"},
    {"type": "group", "userId": "u3", "groupId": "G", "messageId": "m5"},
    {"type": "page", "userId": "u4", "anonymousId": "a4", "messageId": "m6"},
    {"type": "alias", "userId": "u5", "previousId": "a5", "messageId": "m7"},
    {"type": "track", "event": "Signed Up", "userId": "u6", "messageId": "m8",
     "integrations": {"Gainsight": False}},
    {"type": "screen", "userId": "u7", "messageId": "m9"},
    {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1"},   # a copy
]
RAW = [(("f.jsonl", n), json.dumps(event).encode()) for n, event in enumerate(LINES, 1)] + [
    (("f.jsonl", 99), b"{not json"), (("f.jsonl", 100), b'{"type":"track","userId":"u"}')]


def _separate(lines):
    parsed = lines | "Parse" >> ParseEvents()
    consented = parsed[tags.MAIN] | "Consent" >> FilterConsent(NAMES)
    links = consented | "LinkIdentities" >> LinkIdentities()
    keyed = (consented
             | "RouteByCallType" >> RouteByCallType(TYPES)
             | "Whitelist" >> FilterWhitelist(WHITELIST)
             | "KeyByUser" >> beam.ParDo(KeyByUserFn()).with_outputs(COPIES, main=EVENTS))
    return keyed[EVENTS], keyed[COPIES], links, parsed[tags.DEAD_LETTER]


def _fused(lines):
    fused = lines | "ParseToUser" >> ParseToUser(NAMES, TYPES, WHITELIST)
    links = fused[LINKS] | "LinkIdentities" >> LinkIdentities(buffered=True)
    return fused[EVENTS], fused[COPIES], links, fused[tags.DEAD_LETTER]


VIEWS = {"events": lambda kv: (kv[0], json.dumps(unpack(kv[1]), sort_keys=True)),
         "copies": lambda block: json.dumps(unpack(block[1]), sort_keys=True),
         "links": repr,
         "dead": lambda record: record["reason"]}


class _Graph(beam.PTransform):
    def __init__(self, build):
        super().__init__()
        self._build = build

    def expand(self, lines):
        return self._build(lines)


def _views(pipeline, build, label):
    outputs = pipeline | f"Lines{label}" >> beam.Create(RAW) | label >> _Graph(build)
    return {name: pcoll | f"{label}{name}" >> beam.Map(VIEWS[name])
            for name, pcoll in zip(VIEWS, outputs)}


def test_parse_to_user_gives_what_the_separate_steps_give(run):
    from tests.composite.conftest import Run
    separate = Run()
    _views(separate.pipeline, _separate, "Separate")
    separate.finish()

    fused, expected = _views(run.pipeline, _fused, "Fused"), _views(run.pipeline, _separate, "Separate")
    for name in VIEWS:
        same = (run.pipeline
                | f"One{name}" >> beam.Create([None])
                | f"Compare{name}" >> beam.Map(lambda _, a, b: (sorted(a) == sorted(b), len(a)),
                                               beam.pvalue.AsList(fused[name]),
                                               beam.pvalue.AsList(expected[name])))
        assert_that(same, equal_to([(True, {"events": 5, "copies": 4, "links": 4, "dead": 2}[name])]),
                    label=f"Same{name}")
    run.finish()
    # both graphs ran in `run`: what the fused step counted is the rest
    assert {name: value - separate.counters.get(name, 0) for name, value in run.counters.items()} \
        == separate.counters
