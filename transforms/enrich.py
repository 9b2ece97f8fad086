"""AttachAccountId (batch): give every sendable event the Salesforce account it belongs to.

Events that name their own account pass straight through. The others meet their user's
identify/group history in one shuffle keyed by user, and are resolved as of their own time
(transforms.accounts), falling back to the mapping file. Only small (instant, account) facts and
the unresolved events travel through the shuffle.
"""
import apache_beam as beam

from transforms import counters, tags
from transforms.account_mapping import load_mapping
from transforms.accounts import (AccountHistory, account_fact, mapped_account, own_account,
                                 user_key, with_account)
from transforms.timestamps import event_instant

_FACT = "f"
_EVENT = "e"


class SplitByAccountFn(beam.DoFn):
    """event -> RESOLVED event | NEEDS_HISTORY (user, (_EVENT, event)); facts also to NEEDS_HISTORY."""

    def process(self, event):
        fact = account_fact(event)
        if fact is not None:
            yield beam.pvalue.TaggedOutput(tags.NEEDS_HISTORY, (user_key(event), (_FACT,) + fact))
        if own_account(event) is not None:
            yield event
        else:
            yield beam.pvalue.TaggedOutput(tags.NEEDS_HISTORY, (user_key(event), (_EVENT, event)))


class ResolveFromHistoryFn(beam.DoFn):
    """(user, [facts and events]) -> each event with the account as of its time, else mapped."""

    def __init__(self, mapping_path: str | None):
        self._mapping_path = mapping_path
        self._mapping = {}
        self._unmapped = counters.counter(counters.UNMAPPED)

    def setup(self):
        if self._mapping_path:
            self._mapping = load_mapping(self._mapping_path)

    def process(self, user_items):
        _, items = user_items
        history = AccountHistory((item[1], item[2]) for item in items if item[0] == _FACT)
        for item in items:
            if item[0] != _EVENT:
                continue
            event = item[1]
            account = history.account_at(event_instant(event)) or mapped_account(event, self._mapping)
            if account is None:
                self._unmapped.inc()
            yield with_account(event, account)


class AttachAccountId(beam.PTransform):
    """track/identify/group events -> the same events carrying their accountId where known."""

    def __init__(self, mapping_path: str | None):
        super().__init__()
        self._mapping_path = mapping_path

    def expand(self, events):
        split = events | "SplitByAccount" >> beam.ParDo(SplitByAccountFn()).with_outputs(
            tags.NEEDS_HISTORY, main=tags.RESOLVED)
        from_history = (split[tags.NEEDS_HISTORY]
                        | "GroupByUser" >> beam.GroupByKey()
                        | "ResolveFromHistory" >> beam.ParDo(ResolveFromHistoryFn(self._mapping_path)))
        return (split[tags.RESOLVED], from_history) | "Merge" >> beam.Flatten()
