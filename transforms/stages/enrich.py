"""AttachAccountId: give every sendable event the Salesforce account it belongs to
(transforms.stages.accounts for the precedence, transforms.stages.identity for whose history applies).

Batch, one full-event shuffle: every event is grouped by its own key (userId, else anonymousId),
and the per-user step sends one copy of each messageId (transforms.stages.dedupe.settle_copies), finds
each event's owner (an anonymous-only event: the user its anonymousId is linked to, from the
link table) and resolves the owner's history as of the event's time, else the mapping. Beside it
travel only compact records, read by the per-user step as side inputs (the GroupByUser shuffle is
a barrier anyway, so nothing waits for them):

    KeyByUser ─► GroupByUser ─────────────────────────────────────► ResolveFromHistory
       └─ copy rows ─► GroupCopies ─► SettleCopies ─ winners ───────────┘  ▲   ▲
                                         └─ facts ─► GroupFactsByOwner ─► BuildHistories
    LinkIdentities (after Consent) ─ link table ─► SettleCopies, ResolveFromHistory

History is built from the winning copies' identify/group facts only, each owned by the user its
key resolves to (an anonymous identify's account counts for the linked user).

The events cross GroupByUser in blocks per user bucket, not one element each
(transforms.shuffle.user_blocks), and on a local run the blocks themselves wait in spill files
(transforms.shuffle.spill); the link table and the histories are side inputs of packed tables, one element
per bucket of keys, decoded when looked up (transforms.shuffle.packed_lookup).

Streaming: LinkIdentities has tagged each event with its owner; per-owner state holds the
latest (instant, account) its identify/group calls taught; each event takes its own account,
else that one, else the mapping (reloaded every `mapping_refresh_minutes`). An event that
arrives before its link or its user's first identify/group cannot wait: it goes with the
mapping's account, or none (counted unmapped). The state of an anonymous owner is forgotten
after `identity_ttl_days` without activity.
"""
import apache_beam as beam
from apache_beam.coders import BooleanCoder, FloatCoder, StrUtf8Coder, TupleCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from transforms.common import counters, tags
from transforms.stages.account_mapping import MappingCache
from transforms.outputs.checkpoint import load_settled
from transforms.stages.accounts import (AccountHistory, account_fact, attribute, fact_to_json,
                                        history_from_json, user_key, with_account)
from transforms.stages.dedupe import (CopyLedger, FLUSH_EVERY, finish_bundle_value, origin_id,
                                      settle_copies, settle_message_ids, unpack_rows)
from transforms.stages.identity import anonymous_id_of, owner_of, owner_of_fact, runs_from_json
from transforms.common.jsonio import pack, unpack
from transforms.shuffle.packed_lookup import PackedTable, packed_buckets
from transforms.shuffle.spill import SpillFile, SpillReader, block_of
from transforms.shuffle.user_blocks import (MIN_BUCKETS, UserBlocks, block_chunks, by_user, join_block,
                                            key_hash)
from transforms.stages.user_transform import TransformSpec, transform_step

COPIES = "copies"
FACTS = "facts"
_NO_HISTORY = AccountHistory(())


class UserKeyer:
    """Puts sendable events into blocks by user bucket for GroupByUser
    (transforms.shuffle.user_blocks) and keeps their copy rows (transforms.stages.dedupe.CopyLedger), for
    KeyByUserFn and the batch fusion (transforms.stages.prepare).

    add(((path, line), event)); full() once FLUSH_EVERY events are buffered; drain() ->
    ([(bucket, event block)], [(bucket, copy-row block)]); close() at the bundle's end. With
    `spill_dir` (a local run: transforms.shuffle.spill) an event block's place in the bundle's spill
    file stands in for the block.
    """

    def __init__(self, buckets: int = MIN_BUCKETS, spill_dir: str | None = None):
        self._path_ids, self._key_hashes = {}, {}
        self._ledger = CopyLedger()
        self._blocks = UserBlocks(buckets)
        self._spill = None if spill_dir is None else SpillFile(spill_dir)

    def add(self, sourced):
        origin, event = sourced
        key = user_key(event)
        hashed = self._key_hashes.get(key)
        if hashed is None:
            hashed = self._key_hashes[key] = key_hash(key)
        self._ledger.add(origin, event)
        path_id = self._path_ids.get(origin[0])
        if path_id is None:
            path_id = self._path_ids[origin[0]] = origin_id(origin[0], 0)[0]
        self._blocks.add(key, (path_id, origin[1]), event, hashed)

    def full(self) -> bool:
        return self._blocks.size >= FLUSH_EVERY

    def drain(self) -> tuple[list, list]:
        """-> ([(bucket, event block, or its ref in the spill file)], [(bucket, copy-row block)])."""
        parts = self._blocks.drain()
        if self._spill is None:
            blocks = [(bucket, join_block(block_parts)) for bucket, block_parts in parts]
        else:
            blocks = [(bucket, self._spill.write(block_chunks(block_parts)))
                      for bucket, block_parts in parts]
        return blocks, self._ledger.drain()

    def close(self):
        """At the bundle's end, after the last drain(): the spill file is complete."""
        if self._spill is not None:
            self._spill.close()


class KeyByUserFn(beam.DoFn):
    """((path, line), event) -> (bucket, block of events) for GroupByUser, and (bucket, block
    of copy rows) to COPIES (UserKeyer), once FLUSH_EVERY events are buffered and at bundle end."""

    def __init__(self, buckets: int = MIN_BUCKETS, spill_dir: str | None = None):
        self._buckets, self._spill_dir = buckets, spill_dir

    def start_bundle(self):
        self._keyer = UserKeyer(self._buckets, self._spill_dir)

    def process(self, sourced):
        self._keyer.add(sourced)
        if self._keyer.full():
            yield from keyer_outputs(self._keyer)

    def finish_bundle(self):
        yield from keyer_outputs(self._keyer, finish_bundle_value, last=True)


def keyer_outputs(keyer: UserKeyer, wrap=None, last: bool = False) -> list:
    """What a UserKeyer holds, drained: event blocks (main output), copy-row blocks to COPIES;
    each value wrap()ped (finish_bundle: transforms.stages.dedupe.finish_bundle_value). `last`: the
    bundle ends, the keyer is closed."""
    events, copies = keyer.drain()
    if last:
        keyer.close()
    if wrap is not None:
        events, copies = [wrap(block) for block in events], [wrap(block) for block in copies]
    return events + [beam.pvalue.TaggedOutput(COPIES, block) for block in copies]


class SettleCopiesFn(beam.DoFn):
    """(bucket, [blocks]) -> (messageId, winning origin id) of messageIds with several copies;
    FACTS: the winning identify/group calls' facts, (table bucket, packed {owner:
    [fact_to_json(instant, account, via_link), ...]}) per bucket of owners."""

    def setup(self):
        self._links = PackedTable(runs_from_json)

    def process(self, bucket_blocks, links):
        links = self._links.view(links)
        winners, facts = settle_message_ids(unpack_rows(bucket_blocks[1]))
        for message_id, winner in winners.items():
            yield message_id, winner
        owned: dict[str, list] = {}
        for key, instant, account in facts:
            owner, via_link = owner_of_fact(key, instant, links.get(anonymous_id_of(key)))
            owned.setdefault(owner, []).append(fact_to_json(instant, account, via_link))
        for record in packed_buckets(owned.items()):
            yield beam.pvalue.TaggedOutput(FACTS, record)


class ResolveFromHistoryFn(counters.CountingDoFn):
    """(bucket, [blocks of events]) -> per user key of the bucket (transforms.shuffle.user_blocks.by_user),
    one copy of each messageId, with the account of its owner's history as of its time, else
    mapped; later copies are counted.

    `then` (batch): a factory of the step that follows, run inside this DoFn, which saves the
    runner handing each event on; its add(event, count, owner) gets each event and the user it
    belongs to (transforms.delivery.sink.InlineRequests: requests come out;
    InlinePreview: blocks of preview lines); one per bundle, drained at its end.

    `transform` (batch, --transform): run on each resolved event before `then`; the events it
    fails go to DEAD_LETTER (transforms.stages.user_transform)."""

    def __init__(self, mapping_path: str | None, checkpoint: str | None = None, then=None,
                 transform: TransformSpec | None = None):
        self._mapping_path = mapping_path
        self._checkpoint = checkpoint
        self._then = then
        self._transform_spec = transform

    def setup(self):
        self._transform = None if self._transform_spec is None else transform_step(self._transform_spec)
        self._mapping = MappingCache(self._mapping_path)
        self._settled = load_settled(self._checkpoint) if self._checkpoint else ()
        self._links, self._histories = PackedTable(runs_from_json), PackedTable(history_from_json)
        self._spilled = SpillReader()

    def start_bundle(self):
        self._next = None if self._then is None else self._then()

    def process(self, bucket_blocks, winners, links, histories):
        links, histories = self._links.view(links), self._histories.view(histories)
        blocks = (block_of(value, self._spilled) for value in bucket_blocks[1])
        for key, rows in by_user(blocks).items():
            yield from self._resolve(key, rows, winners, links, histories)

    def finish_bundle(self):
        self._spilled.close()
        if self._next is not None:
            for output in self._next.drain():
                yield finish_bundle_value(output)
        self.flush_counts()

    def _resolve(self, key, rows, winners, links, histories):
        events, duplicates, already_settled = settle_copies(
            ((origin, unpack(event)) for origin, event in rows), winners, self._settled)
        if duplicates:
            self.count(counters.DUPLICATES, duplicates)
        if already_settled:
            self.count(counters.ALREADY_SETTLED, already_settled)
        mapping = self._mapping.get()
        runs = links.get(anonymous_id_of(key))
        following, count, transform = self._next, self.count, self._transform
        for _, event in events:
            owner, via_link = owner_of(event, runs)
            account, stitched = attribute(event, histories.get(owner, _NO_HISTORY), mapping,
                                          owner, via_link)
            if account is None:
                count(counters.UNMAPPED)
            elif stitched:
                count(counters.STITCHED)
            event = with_account(event, account)
            if transform is not None:
                event, record = transform(event, count)
                if event is None:
                    if record is not None:
                        yield beam.pvalue.TaggedOutput(tags.DEAD_LETTER, record)
                    continue
            if following is None:
                yield event
            else:
                yield from following.add(event, count, owner)


def build_histories(bucket_records):
    """(table bucket, [SettleCopiesFn's packed {owner: [fact, ...]} of the bucket]) -> (bucket,
    packed {owner: every fact of the owner}): the histories, one element per bucket (a
    PackedTable's; transforms.stages.accounts.history_from_json reads an owner's)."""
    bucket, records = bucket_records
    owned: dict[str, list] = {}
    for data in records:
        for owner, facts in unpack(data).items():
            owned.setdefault(owner, []).extend(facts)
    return bucket, pack(owned)


class RememberAccountsFn(counters.CountingDoFn):
    """Streaming: (owner, event) -> event with its own account, else the owner's latest known
    one (per-owner state), else the mapping's; identify/group calls update the state. The state
    of an anonymous owner is forgotten after `ttl_days` without activity."""

    LATEST = ReadModifyWriteStateSpec("latest_account", TupleCoder((FloatCoder(), StrUtf8Coder())))
    LATEST_VIA_LINK = ReadModifyWriteStateSpec("latest_via_link", BooleanCoder())
    EXPIRES = ReadModifyWriteStateSpec("expires", FloatCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, mapping_path: str | None, mapping_refresh_minutes: float,
                 ttl_days: float = 30.0):
        self._mapping_path = mapping_path
        self._refresh_seconds = mapping_refresh_minutes * 60
        self._ttl_seconds = ttl_days * 86400

    def setup(self):
        self._mapping = MappingCache(self._mapping_path, self._refresh_seconds)

    def process(self, owner_event, timestamp=beam.DoFn.TimestampParam,
                latest=beam.DoFn.StateParam(LATEST),
                latest_via_link=beam.DoFn.StateParam(LATEST_VIA_LINK),
                expires=beam.DoFn.StateParam(EXPIRES), forget=beam.DoFn.TimerParam(FORGET)):
        owner, event = owner_event
        via_link = owner != user_key(event)
        known = latest.read()
        known = None if known is None else (known[0], known[1], bool(latest_via_link.read()))
        fact = account_fact(event)
        if fact is not None and (known is None or fact[0] >= known[0]):
            known = (fact[0], fact[1], via_link)
            latest.write(known[:2])
            latest_via_link.write(via_link)
        if owner.startswith("a:"):
            until = max(float(timestamp) + self._ttl_seconds, expires.read() or 0.0)
            expires.write(until)
            forget.set(Timestamp(until))
        history = AccountHistory([known]) if known else None
        account, stitched = attribute(event, history, self._mapping.get(), owner, via_link)
        if account is None:
            self.count(counters.UNMAPPED)
        elif stitched:
            self.count(counters.STITCHED)
        yield with_account(event, account)

    @on_timer(FORGET)
    def forget_owner(self, latest=beam.DoFn.StateParam(LATEST),
                     latest_via_link=beam.DoFn.StateParam(LATEST_VIA_LINK),
                     expires=beam.DoFn.StateParam(EXPIRES)):
        latest.clear()
        latest_via_link.clear()
        expires.clear()


class AttachAccountId(beam.PTransform):
    """Sendable events -> one copy per messageId, each carrying its accountId where known.

    Batch: (origin, event) in, or {"events": keyed, COPIES: blocks} from the batch fusion
    (transforms.stages.prepare), which did KeyByUser's work; `links` the link table from
    LinkIdentities; `then` (batch) the factory of the step that follows, run in the last step
    (transforms.delivery.sink.InlineRequests: requests come out; InlinePreview: preview-line blocks). Streaming:
    (owner, event) in, from Dedupe.

    Batch with `transform` (--transform): {MAIN: what comes out, DEAD_LETTER: the events the
    transform failed}, the transform run on each resolved event before `then`.
    """

    def __init__(self, mapping_path: str | None, streaming: bool = False,
                 mapping_refresh_minutes: float = 60.0, links=None, identity_ttl_days: float = 30.0,
                 checkpoint: str | None = None, then=None, transform: TransformSpec | None = None):
        super().__init__()
        self._then = then  # batch: the following step, inline (ResolveFromHistoryFn)
        self._transform = transform
        self._mapping_path = mapping_path
        self._checkpoint = checkpoint  # batch: events it holds are settled already, not sent
        self._streaming = streaming
        self._mapping_refresh_minutes = mapping_refresh_minutes
        self._links = links
        self._ttl_days = identity_ttl_days

    def expand(self, events):
        if self._streaming:
            return (events
                    | "KeyByUser" >> beam.Map(lambda owner_event: owner_event)
                    .with_output_types(beam.typehints.KV[str, beam.typehints.Any])
                    | "RememberAccounts" >> beam.ParDo(RememberAccountsFn(
                        self._mapping_path, self._mapping_refresh_minutes, self._ttl_days)))
        if isinstance(events, dict):   # keyed already, by the batch fusion (transforms.stages.prepare)
            keyed, pipeline = events, events["events"].pipeline
        else:
            keyed, pipeline = events | "KeyByUser" >> beam.ParDo(KeyByUserFn()).with_output_types(
                beam.typehints.KV[int, beam.typehints.Any]).with_outputs(COPIES, main="events"), events.pipeline
        links = self._links if self._links is not None else (
            pipeline | "NoLinks" >> beam.Create([]))
        link_table = beam.pvalue.AsDict(links)
        settled = (keyed[COPIES]
                   | "GroupCopies" >> beam.GroupByKey()
                   | "SettleCopies" >> beam.ParDo(SettleCopiesFn(), link_table)
                   .with_outputs(FACTS, main="winners"))
        histories = (settled[FACTS]
                     | "GroupFactsByOwner" >> beam.GroupByKey()
                     | "BuildHistories" >> beam.Map(build_histories))
        resolve = beam.ParDo(
            ResolveFromHistoryFn(self._mapping_path, self._checkpoint, self._then, self._transform),
            winners=beam.pvalue.AsDict(settled["winners"]), links=link_table,
            histories=beam.pvalue.AsDict(histories)).with_output_types(
                beam.typehints.Dict[str, beam.typehints.Any] if self._then is None else beam.typehints.Any)
        grouped = keyed["events"] | "GroupByUser" >> beam.GroupByKey()
        if self._transform is None:
            return grouped | "ResolveFromHistory" >> resolve
        results = grouped | "ResolveFromHistory" >> resolve.with_outputs(tags.DEAD_LETTER, main=tags.MAIN)
        return {tags.MAIN: results[tags.MAIN], tags.DEAD_LETTER: results[tags.DEAD_LETTER]}
