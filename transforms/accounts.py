"""Which Salesforce account an event belongs to: plain functions behind AttachAccountId.

Order of precedence:
1. the event's own account: track `properties.accountId`, identify `traits.accountId`, group `groupId`;
2. the same user's identify/group history as of the event's time (AccountHistory);
3. the mapping file (`--account_mapping`), by userId, else by anonymousId;
4. none: the event is still sent, and counted as unmapped.
"""
import bisect
import math

from transforms.timestamps import event_instant


def _as_account(value) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def own_account(event: dict) -> str | None:
    """The account the event names itself, or None.

    >>> own_account({"type": "group", "groupId": "0015g00000AbCdEAA1"})
    '0015g00000AbCdEAA1'
    """
    call_type = event.get("type")
    if call_type == "group":
        return _as_account(event.get("groupId"))
    field = "traits" if call_type == "identify" else "properties"
    return _as_account((event.get(field) or {}).get("accountId"))


def user_key(event: dict) -> str:
    """Whose history applies: userId when present, else anonymousId (as strings)."""
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
    """A user's (instant, account) facts; answers "which account as of this instant?".

    >>> history = AccountHistory([(20.0, "B"), (10.0, "A")])
    >>> history.account_at(5.0), history.account_at(15.0), history.account_at(25.0)
    ('A', 'A', 'B')
    """

    def __init__(self, facts):
        self._facts = sorted(facts)
        self._instants = [instant for instant, _ in self._facts]

    def __bool__(self):
        return bool(self._facts)

    def account_at(self, instant: float | None) -> str | None:
        """The latest fact at or before `instant`; before the first fact, the first one;
        an unknown instant (None) gets the latest fact. None when there are no facts."""
        if not self._facts:
            return None
        if instant is None:
            return self._facts[-1][1]
        position = bisect.bisect_right(self._instants, instant)
        return self._facts[max(position - 1, 0)][1]


def mapped_account(event: dict, mapping: dict) -> str | None:
    """mapping[userId], else mapping[anonymousId] (keys as strings), else None."""
    for field in ("userId", "anonymousId"):
        value = event.get(field)
        if value is not None and str(value) in mapping:
            return mapping[str(value)]
    return None


def resolve_account(event: dict, history_account: str | None, mapping: dict) -> str | None:
    """The precedence above: own account, else what history said, else the mapping, else None.

    >>> resolve_account({"type": "track", "userId": "u1"}, None, {"u1": "M"})
    'M'
    """
    return own_account(event) or history_account or mapped_account(event, mapping)


def with_account(event: dict, account: str | None) -> dict:
    """A copy of the event carrying `account`: track -> properties.accountId, identify ->
    traits.accountId (other properties/traits untouched); group and None -> unchanged."""
    if account is None or event.get("type") == "group":
        return event
    field = "traits" if event.get("type") == "identify" else "properties"
    return {**event, field: {**(event.get(field) or {}), "accountId": account}}
