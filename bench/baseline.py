"""The job's work in one plain Python process, without a Beam pipeline: the benchmark baseline.

    python -m bench.baseline --input GLOB [--input GLOB ...] --track_whitelist "A,B" \\
        --account_mapping PATH --out PREFIX [--summary PATH] [--dead_letter PREFIX]

Does what `python -m pipeline ... --preview PREFIX` does, with the job's own pure functions
(transforms.stages.read/parse/consent/whitelist/accounts/jsonio/gainsight), so that timing it against
the job measures what Beam costs (and what the job's parallelism gains), not different logic:

    pass 1, files in path order, lines in order:
        read -> parse_line -> enabled_for (consent) -> [--destination_filters] -> identity_link() collected per anonymousId
        -> route by type -> whitelist -> dedupe on messageId (first seen wins: files are
        processed in sorted path order, so that is the job's "earliest (path, line number)")
        -> account_fact() collected with its user_key(); events naming their own account are
        written at once, the others are spilled (pickled, which round-trips any parsed event
        exactly, as Beam's coders do) to a temporary file next to the output
    between: merge_links() per anonymousId; each fact goes to owner_of_fact()'s history
    pass 2, the spill file:
        owner_of(event, its anonymousId's links) -> attribute(event, owner's AccountHistory,
        mapping) -> with_account

Like the job, it collects garbage less often than Python's default
(pipeline.processes.memory.collect_garbage_less_often), from its first line on.

Writes PREFIX-00000-of-00001.jsonl with one transforms.delivery.sink.preview_line per request (the
job's --preview format), dead letters of invalid lines and unreadable files (if --dead_letter),
prints the summary table and writes it as JSON (--summary), with the job's keys
(pipeline.summary.build_summary). Memory: the set of sent messageIds, the facts and the links;
events themselves stream through the spill file.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
import zlib
from collections import defaultdict

from pipeline.processes.memory import collect_garbage_less_often

if __name__ == "__main__":   # before the imports below, as the job's entry point (pipeline/__main__.py)
    collect_garbage_less_often()

from apache_beam.io.filesystems import FileSystems  # noqa: E402  (after the setting above)

from pipeline.summary import build_summary, format_table
from transforms.common import counters
from transforms.stages.account_mapping import load_mapping
from transforms.stages.accounts import AccountHistory, account_fact, attribute, own_account, user_key, with_account
from transforms.stages.identity import anonymous_id_of, identity_link, merge_links, owner_of, owner_of_fact
from transforms.stages.consent import enabled_for
from transforms.stages.destination_filters import filter_check, parse_filters
from transforms.outputs.dead_letter import dead_letter_record
from transforms.delivery.destinations import gainsight_cs
from transforms.delivery.sink import preview_line
from transforms.common.jsonio import dumps_compact
from transforms.stages.parse import InvalidEvent, parse_line
from transforms.stages.read import is_blank, iter_lines, open_events_file
from transforms.common.tags import SENDABLE_TYPES
from transforms.stages.whitelist import is_whitelisted, parse_whitelist

_BUFFER = 1 << 20
# The benchmark runs the default destination, Gainsight CS.
CONSENT_NAMES = gainsight_cs.DESTINATION.consent_names
PREVIEW_PATH = gainsight_cs.DESTINATION.path
PREVIEW_URL = gainsight_cs.DESTINATION.url(gainsight_cs.DESTINATION.base_urls["us"])
SPILL_BATCH = 1000
# what transforms.stages.read.ReadLinesFn treats as a damaged file (gzip.BadGzipFile is an OSError)
_READ_ERRORS = (OSError, EOFError, zlib.error)


def matched_paths(patterns) -> list[str]:
    """Every file each pattern matches (the job's FileSystems.match), in sorted path order."""
    paths = []
    for result in FileSystems.match(list(patterns)):
        paths.extend(metadata.path for metadata in result.metadata_list)
    return sorted(paths)


def run(patterns, track_whitelist: str, mapping_path: str | None, out_prefix: str,
        dead_letter_prefix: str | None = None, filters_path: str | None = None) -> dict:
    """Does the job's work; returns the summary dict (pipeline.summary.build_summary).
    `filters_path`: the job's --destination_filters, applied after consent as the job does
    (transforms.stages.destination_filters.filter_check)."""
    counts: dict[str, int] = defaultdict(int)
    filtered = None
    if filters_path:
        with open(filters_path, encoding="utf-8") as handle:
            apply, count = filter_check(parse_filters(handle.read())), _count_into(counts)
        filtered = lambda event: apply(event, count)  # noqa: E731
    allowed = parse_whitelist(track_whitelist)
    mapping = load_mapping(mapping_path) if mapping_path else {}
    out_path = f"{out_prefix}-00000-of-00001.jsonl"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    spill = _Spill(f"{out_prefix}.spill.pickle")
    seen: set[str] = set()
    facts: list = []
    links: dict[str, dict] = {}   # anonymousId -> {userId: [instants]}, as LinkIdentities buffers them
    dead = (open(f"{dead_letter_prefix}-00000-of-00001.jsonl", "w", encoding="utf-8",
                 buffering=_BUFFER) if dead_letter_prefix else None)
    try:
        with open(out_path, "w", encoding="utf-8", buffering=_BUFFER) as out:
            # pass 1
            for path in matched_paths(patterns):
                last_line = 0
                try:
                    with open_events_file(path) as stream:
                        for last_line, raw in iter_lines(stream):
                            if is_blank(raw):
                                counts[counters.BLANK_LINES] += 1
                                continue
                            counts[counters.READ] += 1
                            _first_pass(raw, (path, last_line), counts, seen, allowed, facts,
                                        links, out, spill, dead, filtered)
                except _READ_ERRORS as err:
                    counts[counters.UNREADABLE_FILES] += 1
                    if dead is not None:
                        dead.write(dumps_compact(dead_letter_record(
                            "read", f"file unreadable after line {last_line}: "
                                    f"{type(err).__name__}: {err}", source=path)) + "\n")
            seen.clear()
        # pass 2
        link_table = {anonymous_id: merge_links([(instant, user) for user, instants in users.items()
                                                 for instant in instants])
                      for anonymous_id, users in links.items()}
        links.clear()
        owned = defaultdict(list)
        for key, instant, account in facts:
            owner, via_link = owner_of_fact(key, instant, link_table.get(anonymous_id_of(key)))
            owned[owner].append((instant, account, via_link))
        histories = {owner: AccountHistory(owner_facts) for owner, owner_facts in owned.items()}
        no_history = AccountHistory(())
        with open(out_path, "a", encoding="utf-8", buffering=_BUFFER) as out:
            for event in spill.events():
                owner, via_link = owner_of(event, link_table.get(anonymous_id_of(user_key(event))))
                account, stitched = attribute(event, histories.get(owner, no_history), mapping,
                                              owner, via_link)
                if account is None:
                    counts[counters.UNMAPPED] += 1
                elif stitched:
                    counts[counters.STITCHED] += 1
                body = dumps_compact(with_account(event, account))
                out.write(preview_line((event["messageId"], body), PREVIEW_URL, PREVIEW_PATH) + "\n")
                counts[counters.PREVIEWED] += 1
    finally:
        if dead is not None:
            dead.close()
        spill.remove()
    return build_summary(dict(counts))


def _count_into(counts):
    def count(name, value=1):
        counts[name] += value
    return count


def _first_pass(raw, origin, counts, seen, allowed, facts, links, out, spill, dead, filtered=None):
    try:
        event = parse_line(raw)
    except InvalidEvent as err:
        counts[counters.INVALID] += 1
        if dead is not None:
            dead.write(dumps_compact(dead_letter_record(
                "parse", str(err), raw=raw if err.raw is None else err.raw,
                source=f"{origin[0]}:{origin[1]}")) + "\n")
        return
    if not enabled_for(event, CONSENT_NAMES):
        counts[counters.SKIPPED_BY_INTEGRATIONS] += 1
        return
    if filtered is not None:
        event = filtered(event)
        if event is None:
            return
    link = identity_link(event)
    if link is not None:
        links.setdefault(link[0], {}).setdefault(link[2], []).append(link[1])
    call_type = event["type"]
    if call_type not in SENDABLE_TYPES:
        counts[counters.UNSUPPORTED] += 1
        counts[counters.unsupported_type(call_type)] += 1
        return
    if call_type == "track" and not is_whitelisted(event["event"], allowed):
        counts[counters.FILTERED] += 1
        return
    message_id = event["messageId"]
    if message_id in seen:
        counts[counters.DUPLICATES] += 1
        return
    seen.add(message_id)
    counts[counters.by_type(call_type)] += 1
    fact = account_fact(event)
    if fact is not None:
        facts.append((user_key(event), fact[0], fact[1]))
    if own_account(event) is not None:
        out.write(preview_line((message_id, dumps_compact(event)), PREVIEW_URL, PREVIEW_PATH) + "\n")
        counts[counters.PREVIEWED] += 1
    else:
        spill.add(event)


class _Spill:
    """Events pickled to a file in batches (one pickle per SPILL_BATCH events: far fewer calls
    than one per event), read back in order by events()."""

    def __init__(self, path: str):
        self._path = path
        self._batch: list = []
        self._file = open(path, "wb", buffering=_BUFFER)

    def add(self, event: dict):
        self._batch.append(event)
        if len(self._batch) >= SPILL_BATCH:
            self._flush()

    def _flush(self):
        if self._batch:
            pickle.dump(self._batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def close(self):
        if not self._file.closed:
            self._flush()
            self._file.close()

    def events(self):
        self.close()
        with open(self._path, "rb", buffering=_BUFFER) as stream:
            while True:
                try:
                    batch = pickle.load(stream)
                except EOFError:
                    return
                yield from batch

    def remove(self):
        self.close()
        if os.path.exists(self._path):
            os.remove(self._path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--input", action="append", required=True, metavar="GLOB")
    parser.add_argument("--track_whitelist", default="")
    parser.add_argument("--account_mapping", default=None, metavar="PATH")
    parser.add_argument("--out", required=True, metavar="PREFIX",
                        help="writes PREFIX-00000-of-00001.jsonl (the job's --preview format)")
    parser.add_argument("--dead_letter", default=None, metavar="PREFIX")
    parser.add_argument("--summary", default=None, metavar="PATH")
    parser.add_argument("--destination_filters", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    started = time.monotonic()
    summary = run(args.input, args.track_whitelist, args.account_mapping, args.out, args.dead_letter,
                  args.destination_filters)
    elapsed = time.monotonic() - started
    print(format_table(summary))
    print(f"preview: {args.out}-*.jsonl")
    print(f"baseline: {summary[counters.READ]} events in {elapsed:.2f} s "
          f"({summary[counters.READ] / elapsed if elapsed else 0:.0f} events/s)")
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2, sort_keys=True)
    return 0 if summary["balanced"] else 1


if __name__ == "__main__":
    sys.exit(main())
