"""Batch only: the per-event steps between the input files and GroupByUser as one DoFn.

    file path, or ((path, line), raw bytes) ─► ParseToUser ─► main:        (user bucket, event block or its spill ref)
                                             ├► COPIES:      copy-row blocks (transforms.stages.dedupe)
                                             ├► LINKS:       buffered links per bucket (transforms.stages.identity)
                                             └► DEAD_LETTER: Parse's records

It does, event by event and in this order, what Read's Lines (for a backfill from files), Parse,
Window (--from / --to), Consent, DestinationFilters, the batch LinkIdentities branch
(BufferLinks), RouteByCallType, Whitelist and AttachAccountId/KeyByUser do as separate steps, by
calling the same plain functions and counting the same counters: read_lines, parse_sourced,
window_check, consent_check, filter_check, LinkBuffer, route_check, whitelist_check, UserKeyer.
Why: Beam's local runner hands every element from one DoFn to the next through several layers
of its own per-element code (output handler, receivers, counters, state sampler), which cost
more than most of the steps themselves.

Streaming keeps the separate steps: their labels are what Dataflow's `--update` matches, and
their state (LinkIdentities, Dedupe, AttachAccountId) lives between them.
"""
import apache_beam as beam

from transforms.common import counters, tags
from transforms.stages.consent import consent_check
from transforms.stages.dedupe import finish_bundle_value
from transforms.stages.destination_filters import filter_check, parse_filters
from transforms.stages.enrich import COPIES, UserKeyer, keyer_outputs
from transforms.stages.identity import LinkBuffer
from transforms.stages.parse import parse_sourced
from transforms.stages.read import read_lines
from transforms.stages.route import route_check
from transforms.shuffle.user_blocks import MIN_BUCKETS
from transforms.stages.whitelist import parse_whitelist, whitelist_check
from transforms.stages.window import Window, window_check

LINKS = "links"
EVENTS = "events"


class ParseToUserFn(counters.CountingDoFn):
    """(source, raw line) -> (user bucket, block of sendable events, or its place in a spill
    file) (UserKeyer); COPIES and LINKS in packed blocks per bundle; DEAD_LETTER: lines Parse
    rejects."""

    def __init__(self, integration_names, call_types, allowed: frozenset,
                 user_buckets: int = MIN_BUCKETS, spill_dir: str | None = None,
                 window: Window | None = None, filters_text: str | None = None):
        self._names = tuple(integration_names)
        self._call_types = tuple(call_types)
        self._allowed = allowed
        self._user_buckets, self._spill_dir = user_buckets, spill_dir
        self._window, self._filters_text = window, filters_text

    def setup(self):
        self._consented = consent_check(self._names)
        self._routed = route_check(self._call_types)
        self._whitelisted = whitelist_check(self._allowed)
        self._in_window = None if self._window is None else window_check(self._window)
        self._filtered = (None if self._filters_text is None
                          else filter_check(parse_filters(self._filters_text)))

    def start_bundle(self):
        self._links = LinkBuffer()
        self._keyer = UserKeyer(self._user_buckets, self._spill_dir)

    def process(self, sourced_line):
        return self._prepare((sourced_line,))

    def _prepare(self, items):
        """What the step gives for `items`: (source, raw line) pairs, or (ReadToUserFn)
        read_lines' lines and its dead-letter record of a damaged file. One loop for all of
        them, with what it calls looked up once."""
        count, links, keyer = self.count, self._links, self._keyer
        consented, routed, whitelisted = self._consented, self._routed, self._whitelisted
        in_window, filtered = self._in_window, self._filtered
        for item in items:
            if type(item) is not tuple:   # read_lines: the file is damaged
                yield beam.pvalue.TaggedOutput(tags.DEAD_LETTER, item)
                continue
            sourced, record = parse_sourced(item, count)
            if record is not None:
                yield beam.pvalue.TaggedOutput(tags.DEAD_LETTER, record)
                continue
            event = sourced[1]
            if in_window is not None and not in_window(event, count):
                continue
            if not consented(event, count):
                continue
            if filtered is not None:   # before the links: a dropped event teaches nothing
                kept = filtered(event, count)
                if kept is None:
                    continue
                if kept is not event:
                    event, sourced = kept, (sourced[0], kept)
            for link in links.add(event):
                yield beam.pvalue.TaggedOutput(LINKS, link)
            if routed(event, count) and whitelisted(event, count):
                keyer.add(sourced)
                if keyer.full():
                    yield from keyer_outputs(keyer)

    def finish_bundle(self):
        for link in self._links.drain():
            yield beam.pvalue.TaggedOutput(LINKS, finish_bundle_value(link))
        yield from keyer_outputs(self._keyer, finish_bundle_value, last=True)
        self.flush_counts()


class ReadToUserFn(ParseToUserFn):
    """A file's path -> what ReadLinesFn (transforms.stages.read.read_lines) and then ParseToUserFn
    give, the file's damage (a read dead-letter record) to DEAD_LETTER with Parse's."""

    def process(self, path):
        return self._prepare(read_lines(path, self.count))


class ParseToUser(beam.PTransform):
    """Batch: Read's (source, bytes) lines -> {EVENTS: keyed sendable events, COPIES: copy-row
    blocks, LINKS: buffered links, DEAD_LETTER: Parse's records} (what ParseEvents,
    FilterConsent, LinkIdentities' BufferLinks, RouteByCallType, FilterWhitelist and
    AttachAccountId's KeyByUser give, in one step). `read_files`: the input is the paths of
    the files to read (transforms.stages.read.MatchSegmentFiles), and reading them (ReadLinesFn's
    read_lines, its damage dead-lettered with Parse's records) is part of the step too.
    `window` (--from / --to) and `filters_text` (--destination_filters' JSON): optional steps
    after Parse and after Consent.
    `user_buckets`, `spill_dir`: how the events travel to the per-user step (UserKeyer)."""

    def __init__(self, integration_names, call_types, track_whitelist: str | None,
                 read_files: bool = False, user_buckets: int = MIN_BUCKETS,
                 spill_dir: str | None = None, window: Window | None = None,
                 filters_text: str | None = None):
        super().__init__()
        self._read_files = read_files
        self._names = tuple(integration_names)
        self._call_types = tuple(call_types)
        self._allowed = parse_whitelist(track_whitelist)
        self._user_buckets, self._spill_dir = user_buckets, spill_dir
        self._window, self._filters_text = window, filters_text

    def expand(self, lines):
        fn = ReadToUserFn if self._read_files else ParseToUserFn
        results = lines | beam.ParDo(
            fn(self._names, self._call_types, self._allowed, self._user_buckets,
               self._spill_dir, self._window, self._filters_text)).with_output_types(
                beam.typehints.KV[int, beam.typehints.Any]).with_outputs(
                COPIES, LINKS, tags.DEAD_LETTER, main=EVENTS)
        return {EVENTS: results[EVENTS], COPIES: results[COPIES], LINKS: results[LINKS],
                tags.DEAD_LETTER: results[tags.DEAD_LETTER]}
