"""Batch's ParseToUser (one DoFn) gives what the separate steps give: the same keyed events,
copy rows, link table, dead letters and counters."""
import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from transforms.common import tags
from transforms.stages.consent import FilterConsent
from transforms.stages.enrich import COPIES, KeyByUserFn
from transforms.stages.identity import LinkIdentities
from transforms.common.jsonio import unpack
from transforms.stages.parse import ParseEvents
from transforms.stages.prepare import EVENTS, LINKS, ParseToUser
from transforms.shuffle.user_blocks import by_user
from transforms.stages.route import RouteByCallType
from transforms.stages.whitelist import FilterWhitelist

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


def _events_view(bucket_block):
    """An event block -> (bucket, key, origin, event) per event in it."""
    bucket, block = bucket_block
    return [(bucket, key, origin, json.dumps(unpack(event), sort_keys=True))
            for key, rows in by_user([block]).items() for origin, event in rows]


VIEWS = {"events": _events_view,
         "copies": lambda block: [json.dumps(unpack(block[1]), sort_keys=True)],
         "links": lambda link: [repr(link)],
         "dead": lambda record: [record["reason"]]}


class _Graph(beam.PTransform):
    def __init__(self, build):
        super().__init__()
        self._build = build

    def expand(self, lines):
        return self._build(lines)


def _views(pipeline, build, label):
    outputs = pipeline | f"Lines{label}" >> beam.Create(RAW) | label >> _Graph(build)
    return {name: pcoll | f"{label}{name}" >> beam.FlatMap(VIEWS[name])
            for name, pcoll in zip(VIEWS, outputs)}


def _check(run, views, fused_build, separate_build, sizes):
    """Runs the separate steps alone (their counters), then both graphs in `run`: each output of
    the fused one holds what the separate one's does (in any order, `sizes[name]` items), and
    it counted the same. -> the separate steps' counters."""
    from tests.composite.conftest import Run
    separate = Run()
    views(separate.pipeline, separate_build, "Separate")
    separate.finish()
    fused, expected = views(run.pipeline, fused_build, "Fused"), views(run.pipeline, separate_build, "Separate")
    for name in VIEWS:
        same = (run.pipeline
                | f"One{name}" >> beam.Create([None])
                | f"Compare{name}" >> beam.Map(lambda _, a, b: (sorted(a) == sorted(b), len(a)),
                                               beam.pvalue.AsList(fused[name]),
                                               beam.pvalue.AsList(expected[name])))
        assert_that(same, equal_to([(True, sizes[name])]), label=f"Same{name}")
    run.finish()
    # both graphs ran in `run`: what the fused step counted is the rest
    assert {name: value - separate.counters.get(name, 0) for name, value in run.counters.items()} \
        == separate.counters
    return separate.counters


def test_parse_to_user_gives_what_the_separate_steps_give(run):
    _check(run, _views, _fused, _separate, {"events": 5, "copies": 4, "links": 4, "dead": 2})
def test_read_to_user_reads_files_as_read_then_parse_to_user(run, tmp_path):
    import gzip
    from transforms.stages.read import MatchSegmentFiles, ReadSegmentFiles
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(raw for _, raw in RAW) + b"\n\n")
    (tmp_path / "b.gz").write_bytes(gzip.compress(b"\n".join(raw for _, raw in RAW[:4]) + b"\n")[:-30])
    pattern = [str(tmp_path / "*")]

    def read_then_fuse(pipeline, label):
        read = pipeline | f"Read{label}" >> ReadSegmentFiles(pattern)
        fused = read[tags.MAIN] | f"Fuse{label}" >> ParseToUser(NAMES, TYPES, WHITELIST)
        return fused, read[tags.DEAD_LETTER]

    def read_to_user(pipeline, label):
        fused = (pipeline | f"Files{label}" >> MatchSegmentFiles(pattern)
                 | f"ReadToUser{label}" >> ParseToUser(NAMES, TYPES, WHITELIST, read_files=True))
        return fused, None

    def views(pipeline, build, label):
        fused, read_dead = build(pipeline, label)
        dead = fused[tags.DEAD_LETTER]
        if read_dead is not None:
            dead = (dead, read_dead) | f"AllDead{label}" >> beam.Flatten()
        outputs = (fused[EVENTS], fused[COPIES], fused[LINKS], dead)
        return {name: pcoll | f"{label}{name}" >> beam.FlatMap(VIEWS[name])
                for name, pcoll in zip(VIEWS, outputs)}

    counted = _check(run, views, read_to_user, read_then_fuse,
                     {"events": 7, "copies": 4, "links": 4, "dead": 3})
    assert counted["unreadable_files"] == 1 and counted["blank_lines"] == 1
