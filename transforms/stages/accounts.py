"""Which Salesforce account an event belongs to: plain functions behind AttachAccountId.

Order of precedence:
1. the event's own account: group `groupId`; identify `traits.accountId`, else `context.groupId`;
   track and page `properties.accountId`, else `context.groupId`;
2. the history of the user the event belongs to (transforms.stages.identity resolves an anonymous
   event to a userId) as of the event's time (AccountHistory);
3. the mapping file (`--account_mapping`): by the resolved userId, then the event's own userId,
   then its anonymousId;
4. none: the event is still sent, and counted as unmapped.

Only the account is added (track and page `properties.accountId`, identify `traits.accountId`);
userId and anonymousId are never rewritten.
"""
import bisect
import math

from transforms.common.timestamps import event_instant


def _as_account(value) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def own_account(event: dict) -> str | None:
    """The account the event names itself, or None: a group its groupId; an identify its
    traits.accountId, else context.groupId; a track or page (any other type too) its
    properties.accountId, else context.groupId.

    >>> own_account({"type": "group", "groupId": "0015g00000AbCdEAA1"})
    '0015g00000AbCdEAA1'
    >>> own_account({"type": "page", "context": {"groupId": "0015g00000AbCdEAA1"}})
    '0015g00000AbCdEAA1'
    """
    call_type = event.get("type")
    if call_type == "group":
        return _as_account(event.get("groupId"))
    # Parse has made these objects or None (hot path: no helper calls when absent)
    fields = event.get("traits" if call_type == "identify" else "properties")
    if fields:
        account = fields.get("accountId")
        if account is not None:
            account = _as_account(account)
            if account is not None:
                return account
    context = event.get("context")
    if context:
        group_id = context.get("groupId")
        if group_id is not None:
            return _as_account(group_id)
    return None


def user_key(event: dict) -> str:
    """The event's own key: userId when present, else anonymousId (as strings). An anonymous
    event's history is that of the user its anonymousId is linked to (transforms.stages.identity)."""
    user_id = event.get("userId")
    if user_id is not None and user_id != "":
        return f"u:{user_id}"
    return f"a:{event.get('anonymousId')}"


def account_fact(event: dict) -> tuple[float, str] | None:
    """(instant, account) that an identify or group call teaches about its user, else None.

    An event without a usable time counts as known from the start (-inf).
    """
    if event.get("type") not in ("identify", "group"):
        return None
    account = own_account(event)
    if account is None:
        return None
    instant = event_instant(event)
    return (-math.inf if instant is None else instant), account


class AccountHistory:
    """A user's (instant, account[, via_link]) facts; answers "which account as of this instant?".
    `via_link` marks a fact taught by an anonymous call whose anonymousId is linked to the user.

    >>> history = AccountHistory([(20.0, "B"), (10.0, "A")])
    >>> history.account_at(5.0), history.account_at(15.0), history.account_at(25.0)
    ('A', 'A', 'B')
    """

    def __init__(self, facts):
        self._facts = sorted(tuple(fact) for fact in facts)
        self._instants = [fact[0] for fact in self._facts]

    def __bool__(self):
        return bool(self._facts)

    def fact_at(self, instant: float | None) -> tuple | None:
        """The latest fact at or before `instant`; before the first fact, the first one;
        an unknown instant (None) gets the latest fact. None when there are no facts."""
        if not self._facts:
            return None
        if instant is None:
            return self._facts[-1]
        position = bisect.bisect_right(self._instants, instant)
        return self._facts[max(position - 1, 0)]

    def account_at(self, instant: float | None) -> str | None:
        fact = self.fact_at(instant)
        return None if fact is None else fact[1]


def fact_to_json(instant: float, account: str, via_link: bool) -> list:
    """One history fact -> [instant or null, account, via_link]: how histories cross to the
    per-user step (transforms.shuffle.packed_lookup), a list of these per owner.

    >>> history_from_json([fact_to_json(-math.inf, "A", False), fact_to_json(5.0, "B", True)]).account_at(6.0)
    'B'
    """
    return [None if instant == -math.inf else instant, account, via_link]


def history_from_json(facts: list) -> AccountHistory:
    """[fact_to_json(...), ...] -> AccountHistory."""
    return AccountHistory((-math.inf if instant is None else instant, account, via_link)
                          for instant, account, via_link in facts)


def mapped_account(event: dict, mapping: dict, resolved_user=None) -> str | None:
    """mapping[resolved userId], else mapping[userId], else mapping[anonymousId] (keys as
    strings), else None.

    >>> mapped_account({"anonymousId": "a1"}, {"u9": "M", "a1": "A"}, resolved_user="u9")
    'M'
    """
    if not mapping:
        return None
    for value in (resolved_user, event.get("userId"), event.get("anonymousId")):
        if value is not None and value != "" and str(value) in mapping:
            return mapping[str(value)]
    return None


def resolve_account(event: dict, history_account: str | None, mapping: dict,
                    resolved_user=None) -> str | None:
    """The precedence above: own account, else what history said, else the mapping, else None.

    >>> resolve_account({"type": "track", "userId": "u1"}, None, {"u1": "M"})
    'M'
    """
    return (own_account(event) or history_account
            or mapped_account(event, mapping, resolved_user))


def with_account(event: dict, account: str | None) -> dict:
    """A copy of the event carrying `account`: identify -> traits.accountId, track, page (any
    type but group) -> properties.accountId (the rest untouched); group and None -> unchanged."""
    if account is None or event.get("type") == "group":
        return event
    field = "traits" if event.get("type") == "identify" else "properties"
    return {**event, field: {**(event.get(field) or {}), "accountId": account}}


def attribute(event: dict, history: AccountHistory | None, mapping: dict,
              owner: str | None = None, via_link: bool = False) -> tuple[str | None, bool]:
    """(account, stitched) for one event: its own account, else `history` (its owner's) as of
    its time, else the mapping; `stitched` when the account came through an anonymousId link
    (the owner was found through one, or the history fact was taught by a linked anonymous call).

    >>> history = AccountHistory([(0.0, "A", False)])
    >>> attribute({"type": "track", "anonymousId": "a1"}, history, {}, "u:u1", True)
    ('A', True)
    """
    own = own_account(event)
    if own is not None:
        return own, False
    fact = history.fact_at(event_instant(event)) if history else None
    if fact is not None:
        return fact[1], via_link or (len(fact) > 2 and bool(fact[2]))
    resolved_user = owner[2:] if via_link and owner and owner.startswith("u:") else None
    account = mapped_account(event, mapping, resolved_user)
    return account, account is not None and resolved_user is not None and resolved_user in mapping
