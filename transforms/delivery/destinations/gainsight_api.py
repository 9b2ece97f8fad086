"""Gainsight CS's REST API on the tenant's own domain (`--destination gainsight-api`).

A batch of events becomes a few calls, each answered in an envelope
{"result", "errorCode", "errorDesc", "requestId", "data"} (a 2xx with "result": false failed):

    group    POST /v1/data/objects/query/Company  {"select": ["Gsid", "Name"], "where": {"conditions":
                  [{"name": "Name", "alias": "A", "value": ["Hooli", ...], "operator": "IN"}],
                  "expression": "A"}, "limit": 50}
             POST /v1/data/objects/Company {"records": [...]}              the new ones, 50 a call
             PUT  /v1/data/objects/Company?keys=Name {"records": [...]}    the known ones
    identify PUT  /v1.0/api/people {"Email": "ann@hooli.example", "FirstName": "Ann", ...,
                  "companies": [{"Company_ID": "<Company Gsid>"}]}        one per person
    track    POST /v1/data/objects/SegmentEvent__gc {"records": [...]}    50 a call (--event_object)

    header accesskey: <key>

In a batch, a person's identify calls (and the group calls of the same user, for the link)
become one People upsert with the latest value of each field in timestamp order; a company's
group calls one record. A backfill's batches hold whole users (batch_by_user), and its
companies are merged over all of it first (company_records, transforms.delivery.shared_records),
so both are merged over the whole backfill. Each event settles on its own: an event is
delivered when every call it went into was. A call refused for validation (HTTP 400,
GSOBJ_...) is narrowed down to its bad records (those data.errors names; else the call is split
in halves and each sent again) so that only they are dead-lettered, with their error; an
unknown field (GSOBJ_1002) fails every record alike and is not split. The field maps come from
the flags (Settings below).
"""
import functools
import re
import time
from dataclasses import dataclass, replace

from transforms.common import counters
from transforms.common.batches import chunked
from transforms.common.jsonio import dumps_compact, loads_event
from transforms.common.timestamps import event_instant
from transforms.delivery.destinations.base import (REJECTED, BatchContext, Call, Credential, Delivery,
                                                   Destination, KeyCheck, classify_by_status)

PEOPLE_PATH = "/v1.0/api/people"
OBJECTS_PATH = "/v1/data/objects/"
QUERY_PATH = "/v1/data/objects/query/"
MAX_RECORDS = 50
UNKNOWN_FIELD = "GSOBJ_1002"   # the whole call fails: no record is to blame more than another
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OBJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__gc$")
_WHITESPACE = re.compile(r"\s")

PERSON_DEFAULTS = (("traits.email", "Email"), ("traits.firstName", "FirstName"),
                   ("traits.lastName", "LastName"), ("traits.name", "Name"),
                   ("traits.title", "Title"))
COMPANY_DEFAULTS = (("traits.name", "Name"), ("traits.industry", "Industry"),
                    ("traits.employees", "Employees"))
EVENT_DEFAULTS = (("event", "EventName__gc"), ("userId", "UserId__gc"),
                  ("properties.accountId", "AccountId__gc"), ("timestamp", "Timestamp__gc"),
                  ("messageId", "MessageId__gc"), ("properties", "Properties__gc"))
DEFAULT_REQUESTS_PER_MINUTE = 90     # Gainsight allows 100 a minute per tenant
DEFAULT_REQUESTS_PER_DAY = 45_000    # and 50,000 a day


class SettingError(ValueError):
    """A flag of this destination is unusable: .flag names it."""

    def __init__(self, flag: str, problem: str):
        super().__init__(f"{flag}: {problem}")
        self.flag, self.problem = flag, problem


@dataclass(frozen=True)
class Settings:
    """What the flags say: (event path, Gainsight field) pairs per kind of record."""
    person_fields: tuple = PERSON_DEFAULTS
    company_fields: tuple = COMPANY_DEFAULTS
    company_key: str = "Name"
    event_object: str | None = None
    event_fields: tuple = EVENT_DEFAULTS

    @property
    def email_path(self) -> str:
        return next(path for path, name in self.person_fields if name == "Email")

    @property
    def company_key_path(self) -> str:
        return next(path for path, name in self.company_fields if name == self.company_key)


def field_map(flag: str, values, defaults: tuple) -> tuple:
    """`PATH=Field` flag values -> ((path, field), ...); the defaults when none is given.

    >>> field_map("--person_field", ["traits.email=Email", "traits.plan=Plan__gc"], ())
    (('traits.email', 'Email'), ('traits.plan', 'Plan__gc'))
    >>> field_map("--person_field", ["traits.plan="], ())
    Traceback (most recent call last):
    ...
    transforms.delivery.destinations.gainsight_api.SettingError: --person_field: 'traits.plan=' needs a field name: PATH=Field (e.g. traits.plan=Plan__gc)
    """
    if not values:
        return defaults
    pairs = []
    for value in values:
        path, _, name = value.partition("=")
        if not name.strip():
            raise SettingError(flag, f"{value!r} needs a field name: PATH=Field (e.g. traits.plan=Plan__gc)")
        if not path.strip() or any(not part for part in path.split(".")):
            raise SettingError(flag, f"{value!r} needs an event path: PATH=Field (e.g. traits.plan=Plan__gc)")
        if not _FIELD.match(name):
            raise SettingError(flag, f"{name!r} is not a Gainsight field name (letters, digits, _)")
        pairs.append((path, name))
    names = [name for _, name in pairs]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise SettingError(flag, f"{duplicated[0]} is mapped more than once")
    return tuple(pairs)


def settings_from(person_fields=None, company_fields=None, company_key=None, event_object=None,
                  event_fields=None) -> Settings:
    """The flags' values -> Settings; SettingError naming the flag when one is unusable."""
    people = field_map("--person_field", person_fields, PERSON_DEFAULTS)
    if "Email" not in (name for _, name in people):
        raise SettingError("--person_field", "one must map to Email (People are keyed by Email), "
                           "e.g. traits.email=Email")
    companies = field_map("--company_field", company_fields, COMPANY_DEFAULTS)
    key = company_key or "Name"
    if not _FIELD.match(key):
        raise SettingError("--company_key", f"{key!r} is not a Gainsight field name")
    if key not in (name for _, name in companies):
        raise SettingError("--company_key" if company_key else "--company_field",
                           f"no --company_field maps to the company key {key} "
                           f"(e.g. --company_field groupId={key})")
    if event_fields and not event_object:
        raise SettingError("--event_field", "needs --event_object (the custom object to write to)")
    if event_object and not _OBJECT.match(event_object):
        raise SettingError("--event_object", f"{event_object!r} is not a custom object name "
                           "(they end in __gc, e.g. SegmentEvent__gc)")
    events = field_map("--event_field", event_fields, EVENT_DEFAULTS)
    return Settings(people, companies, key, event_object or None, events)


def key_problem(key: str) -> str | None:
    """The key's shape is not documented beyond this: non-empty, no whitespace."""
    if not key:
        return "is empty"
    if _WHITESPACE.search(key):
        return "must not contain whitespace"
    return None


def key_headers(key: str) -> dict:
    return {"accesskey": key}


# -- events to records ------------------------------------------------------------------------

def record_value(event: dict, path: str):
    """The value a record field gets from a dotted path of the event: None when absent; objects
    and lists as JSON text (unlike transforms.stages.fql.value_at, which keeps them as they are).

    >>> record_value({"traits": {"name": "Ann"}, "properties": {"a": [1]}}, "traits.name")
    'Ann'
    >>> record_value({"properties": {"a": [1]}}, "properties")
    '{"a":[1]}'
    """
    value = event
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, (dict, list)):
        return dumps_compact(value)
    return value


def record_of(event: dict, fields: tuple) -> dict:
    """The fields the event has a value for (a field it lacks is left as it is in Gainsight).

    >>> record_of({"traits": {"name": "Hooli"}}, COMPANY_DEFAULTS)
    {'Name': 'Hooli'}
    """
    record = {}
    for path, name in fields:
        value = record_value(event, path)
        if value is not None:
            record[name] = value
    return record


def stitched_users(events: list):
    """event -> its user: its userId; for an anonymous-only event, the userId that the latest
    event of `events` (in the order given) carrying both ids names beside its anonymousId (a
    visit stitched to the user who signed in); else its anonymousId.

    >>> user = stitched_users([{"userId": "u1", "anonymousId": "a1"}, {"anonymousId": "a2"}])
    >>> user({"anonymousId": "a1"}), user({"anonymousId": "a2"}), user({"userId": "u9"})
    ('u1', 'a2', 'u9')
    """
    signed_in = {event["anonymousId"]: event["userId"] for event in events
                 if event.get("userId") and event.get("anonymousId")}

    def user(event):
        return event.get("userId") or signed_in.get(event.get("anonymousId")) or event.get("anonymousId")
    return user


def company_records(settings: Settings, body: str) -> list:
    """A group call's Company record, for merging over a backfill (transforms.delivery.
    shared_records): [(key value, (has a time, instant, messageId), record)]; [] for other calls.

    >>> company_records(Settings(), '{"type": "group", "messageId": "g1", "traits": {"name": "Hooli"}}')
    [('Hooli', (False, 0.0, 'g1'), {'Name': 'Hooli'})]
    """
    event = loads_event(body)
    if event.get("type") != "group":
        return []
    key = record_value(event, settings.company_key_path)
    if key is None or key == "":
        return []
    when = event_instant(event)
    order = (when is not None, when or 0.0, str(event.get("messageId") or ""))
    return [(key, order, record_of(event, settings.company_fields))]


def in_time_order(events: list) -> list:
    """Indices of `events` in timestamp order (events without one first, as they came)."""
    def instant(index):
        when = event_instant(events[index])
        return (when is not None, when or 0.0, index)
    return sorted(range(len(events)), key=instant)


@dataclass
class Plan:
    """What a batch becomes: companies by key, people by email, event rows; and which events
    each one stands for (indices into the batch)."""
    companies: dict     # key value -> record (latest value of each field)
    company_events: dict  # key value -> [index]
    people: dict        # email -> record (without links)
    person_events: dict   # email -> [index]
    person_companies: dict  # email -> [company key value] to link
    rows: list          # [(index, record)] custom-object rows
    rejected: dict      # index -> reason (nothing to send for it)
    not_linked: int


def plan_batch(events: list, settings: Settings) -> Plan:
    """Events of one batch -> the records to write (plain data; no call made).

    >>> events = [{"type": "identify", "userId": "u1", "traits": {"email": "a@x.example", "title": "CSM"},
    ...            "timestamp": "2024-11-01T10:00:00Z"},
    ...           {"type": "identify", "userId": "u1", "traits": {"title": "VP"},
    ...            "timestamp": "2024-11-01T11:00:00Z"},
    ...           {"type": "group", "userId": "u1", "groupId": "g1", "traits": {"name": "Hooli"}}]
    >>> plan = plan_batch(events, Settings())
    >>> plan.people, plan.person_companies, plan.companies
    ({'a@x.example': {'Email': 'a@x.example', 'Title': 'VP'}}, {'a@x.example': ['Hooli']}, {'Hooli': {'Name': 'Hooli'}})
    """
    order = in_time_order(events)
    email_path, key_path = settings.email_path, settings.company_key_path
    user = stitched_users([events[index] for index in order])
    emails = {}                        # user -> latest email known in the batch
    for index in order:
        event = events[index]
        email = record_value(event, email_path) if event.get("type") == "identify" else \
            record_value(event, "context." + email_path)
        if isinstance(email, str) and email:
            emails[user(event)] = email
    plan = Plan({}, {}, {}, {}, {}, [], {}, 0)
    for index in order:
        event = events[index]
        kind = event.get("type")
        if kind == "identify":
            email = emails.get(user(event))
            if not email:
                plan.rejected[index] = (f"identify without an email ({email_path}, for this user "
                                        "in this batch): Gainsight People are keyed by Email")
                continue
            record = record_of(event, settings.person_fields)
            record["Email"] = email
            plan.people.setdefault(email, {}).update(record)
            plan.person_events.setdefault(email, []).append(index)
        elif kind == "group":
            key = record_value(event, key_path)
            if key is None or key == "":
                plan.rejected[index] = (f"group without {key_path} (the company key "
                                        f"{settings.company_key})")
                continue
            plan.companies.setdefault(key, {}).update(record_of(event, settings.company_fields))
            plan.company_events.setdefault(key, []).append(index)
            email = emails.get(user(event))
            if email:
                links = plan.person_companies.setdefault(email, [])
                if key not in links:
                    links.append(key)
                plan.people.setdefault(email, {"Email": email})
                plan.person_events.setdefault(email, []).append(index)
            else:
                plan.not_linked += 1
        elif kind == "track" and settings.event_object:
            plan.rows.append((index, record_of(event, settings.event_fields)))
        else:
            plan.rejected[index] = f"{kind} calls are not sent to Gainsight CS's REST API"
    return plan


# -- answers ----------------------------------------------------------------------------------

def read_envelope(text: str) -> dict:
    """The answer's envelope ({} when the body is not one)."""
    try:
        answer = loads_event(text)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def classify(status: int, text: str, events: int) -> list:
    """A verdict for every record of the call: a 2xx needs "result": true as well.

    >>> classify(200, '{"result": true}', 2), classify(200, '{"result": false}', 1)
    (['delivered', 'delivered'], ['rejected'])
    >>> classify(429, '{"result": false, "errorCode": "GU_2400"}', 1), classify(403, "", 1)
    (['retry'], ['key_rejected'])
    """
    if 200 <= status < 300 and read_envelope(text).get("result") is not True:
        return [REJECTED] * events
    return classify_by_status(status, text, events)


def until_next_minute(status: int, text: str, clock=time.time) -> float | None:
    """A 429 (GU_2400) without Retry-After: the window is a fixed minute, so wait for the next.

    >>> until_next_minute(429, "", clock=lambda: 120.25), until_next_minute(503, "")
    (60.75, None)
    """
    if status != 429:
        return None
    return 60.0 - clock() % 60.0 + 1.0


def error_of(envelope: dict) -> str:
    """'GSOBJ_1003: Employees must be a number' from an envelope."""
    code, desc = envelope.get("errorCode"), envelope.get("errorDesc")
    return ": ".join(str(part) for part in (code, desc) if part) or "refused"


def named_errors(envelope: dict, records: int) -> dict:
    """{record index: its error} from data.errors, when the answer names records."""
    data = envelope.get("data")
    errors = data.get("errors") if isinstance(data, dict) else None
    named = {}
    for error in errors if isinstance(errors, list) else ():
        index = error.get("index") if isinstance(error, dict) else None
        if isinstance(index, int) and 0 <= index < records:
            named[index] = error_of(error)
    return named


# -- calls ------------------------------------------------------------------------------------

class Calls:
    """The calls of one batch through the shared sender; keeps one entry per call made."""

    def __init__(self, sender):
        self._sender = sender
        self.made = []

    def send(self, method: str, path: str, payload) -> tuple[list, dict, int | None]:
        """One call standing for one record -> (outcomes, envelope, status)."""
        return self.send_records(method, path, [payload], lambda records: records[0])

    def send_records(self, method: str, path: str, records: list, body=None):
        """One call for `records` ({"records": [...]} unless `body` shapes it) -> (one Outcome
        per record, the last answer's envelope, its status)."""
        shape = body or (lambda chosen: {"records": chosen})
        outcomes, text = self._sender.exchange(
            lambda pending: Call(method, path, dumps_compact(shape([records[i] for i in pending])).encode("utf-8")),
            len(records), classify)
        self.made.append(max(outcomes, key=lambda outcome: outcome.attempts))
        return outcomes, read_envelope(text), outcomes[-1].status

    def write(self, method: str, path: str, records: list) -> tuple[list, list]:
        """Writes records (at most 50) so that only bad ones fail: (an Outcome per record,
        the answer's data.records of the last call that wrote them all, [] otherwise)."""
        outcomes, envelope, status = self.send_records(method, path, records)
        if all(outcome.delivered for outcome in outcomes):
            data = envelope.get("data")
            return outcomes, (data.get("records") if isinstance(data, dict) else None) or []
        if status is None or status == 429 or status >= 500 or status in (401, 403) \
                or len(records) == 1 or envelope.get("errorCode") == UNKNOWN_FIELD:
            return [_own_reason(outcome, envelope) for outcome in outcomes], []
        named = named_errors(envelope, len(records))
        if named:   # the named ones fail; the rest go again without them
            rest = [i for i in range(len(records)) if i not in named]
            settled = {i: replace(outcomes[i], reason=f"HTTP {status} {named[i]}") for i in named}
            if rest:
                for i, outcome in zip(rest, self.write(method, path, [records[i] for i in rest])[0]):
                    settled[i] = outcome
            return [settled[i] for i in range(len(records))], []
        half = len(records) // 2   # no record named: each half on its own
        first = self.write(method, path, records[:half])[0]
        second = self.write(method, path, records[half:])[0]
        return first + second, []


def _own_reason(outcome, envelope: dict):
    if outcome.delivered or outcome.status is None or not envelope:
        return outcome
    return replace(outcome, reason=f"HTTP {outcome.status} {error_of(envelope)}")


def query_gsids(calls: Calls, key: str, values: list) -> tuple:
    """One query for up to 50 key values -> (its Outcome, its envelope, {key value: Gsid})."""
    query = {"select": ["Gsid", key], "where": {"conditions": [
        {"name": key, "alias": "A", "value": values, "operator": "IN"}], "expression": "A"},
        "limit": MAX_RECORDS}
    (answer,), envelope, _ = calls.send("POST", QUERY_PATH + "Company", query)
    data = envelope.get("data") if answer.delivered else None
    found = {}
    for row in (data.get("records") if isinstance(data, dict) else None) or []:
        if isinstance(row, dict) and row.get(key) in values and row.get("Gsid"):
            found[row[key]] = row["Gsid"]
    return answer, envelope, found


def write_companies(calls: Calls, plan: Plan, key: str, written: dict | None = None) -> tuple[dict, dict]:
    """Query, then insert the new companies and update the known ones, 50 a call ->
    ({key value: Outcome}, {key value: Gsid}). A company whose insert is refused although the
    query did not find it, and that a second query finds, was inserted meanwhile (another
    worker's batch): it is updated instead. With `written` ({key value: (Gsid, record)}, kept
    across batches), a company this worker has written as it stands now is not written again,
    and what is written is added to it."""
    outcomes, gsids = {}, {}
    pending = []
    for value, record in plan.companies.items():
        held = None if written is None else written.get(value)
        if held is not None and held[1] == record:
            outcomes[value], gsids[value] = _without_call(True), held[0]
        else:
            pending.append(value)
    for keys in chunked(pending, MAX_RECORDS):
        answer, envelope, found = query_gsids(calls, key, keys)
        if not answer.delivered:
            outcomes.update((value, _own_reason(answer, envelope)) for value in keys)
            continue
        gsids.update(found)
        new = [value for value in keys if value not in found]
        known = [value for value in keys if value in found]
        if new:
            inserted, answers = calls.write("POST", OBJECTS_PATH + "Company",
                                            [plan.companies[value] for value in new])
            outcomes.update(zip(new, inserted))
            if len(answers) == len(new):   # inserted in the order sent
                gsids.update((value, row.get("Gsid")) for value, row in zip(new, answers)
                             if isinstance(row, dict) and row.get("Gsid"))
            refused = [value for value, outcome in zip(new, inserted)
                       if not outcome.delivered and outcome.status == 400]
            if refused:
                again, _, raced = query_gsids(calls, key, refused)
                if again.delivered and raced:
                    gsids.update(raced)
                    known += [value for value in refused if value in raced]
        if known:
            updated, _ = calls.write("PUT", f"{OBJECTS_PATH}Company?keys={key}",
                                     [plan.companies[value] for value in known])
            outcomes.update(zip(known, updated))
    if written is not None:
        written.update((value, (gsids[value], plan.companies[value])) for value in pending
                       if outcomes[value].delivered and gsids.get(value))
    return outcomes, gsids


def deliver(settings: Settings, bodies: list, sender, context: BatchContext | None = None) -> Delivery:
    """A batch's bodies -> Delivery: companies first (a Person's link needs the Gsid), then
    People, then event rows; each event delivered when all its calls were. In a backfill, a
    company is written as context.shared holds it (merged over the backfill from
    company_records), so every batch would write the same values: one this worker has written
    already (context.written) is not written again. context.delivered hears of the identify
    and group calls once People are written, and of each 50 rows as their call answers (rows
    are inserts: a crash after one must not write it again)."""
    context = context or BatchContext()
    events = [loads_event(body) for body in bodies]
    plan = plan_batch(events, settings)
    plan.companies.update((key, context.shared[key]) for key in plan.companies if key in context.shared)
    calls = Calls(sender)
    settled: dict = {}
    report = context.delivered

    def settle(index, outcome):
        if index not in settled or settled[index].delivered and not outcome.delivered:
            settled[index] = outcome

    companies, gsids = write_companies(calls, plan, settings.company_key,
                                       context.written if context.shared else None)
    for value, indices in plan.company_events.items():
        for index in indices:
            settle(index, companies[value])
    for email, record in plan.people.items():
        links = [gsids[value] for value in plan.person_companies.get(email, ()) if value in gsids]
        person = {**record, "companies": [{"Company_ID": gsid} for gsid in links]} if links else record
        (outcome,), envelope, _ = calls.send("PUT", PEOPLE_PATH, person)
        for index in plan.person_events[email]:
            settle(index, _own_reason(outcome, envelope))
    report(sorted(index for index, outcome in settled.items() if outcome.delivered))
    for rows in chunked(plan.rows, MAX_RECORDS):
        written, _ = calls.write("POST", OBJECTS_PATH + settings.event_object,
                                 [record for _, record in rows])
        for (index, _), outcome in zip(rows, written):
            settle(index, outcome)
        report([index for (index, _), outcome in zip(rows, written) if outcome.delivered])
    outcomes = [settled.get(index) or _refused(plan.rejected[index]) for index in range(len(events))]
    return Delivery(outcomes, calls.made, {counters.NOT_LINKED: plan.not_linked})


def _refused(reason: str):
    """The Outcome of an event nothing was sent for."""
    return _without_call(False, reason)


def _without_call(delivered: bool, reason: str = ""):
    """An Outcome no call was made for (http_delivery imports the destinations' base, whose
    package imports this module: imported here, when first needed)."""
    from transforms.delivery.http_delivery import Outcome  # pylint: disable=import-outside-toplevel
    return Outcome(delivered, None, 0, reason)


# -- preview ----------------------------------------------------------------------------------

def preview_calls(settings: Settings, event: dict) -> list:
    """The calls one event goes into, as --preview writes them (a batch merges them).

    >>> preview_calls(Settings(), {"type": "identify", "traits": {"email": "a@x.example"}})
    [('PUT', '/v1.0/api/people', {'Email': 'a@x.example'})]
    """
    plan = plan_batch([event], settings)
    found = []
    for value, record in plan.companies.items():
        found.append(("POST", QUERY_PATH + "Company", {
            "select": ["Gsid", settings.company_key], "where": {"conditions": [
                {"name": settings.company_key, "alias": "A", "value": [value], "operator": "IN"}],
                "expression": "A"}, "limit": MAX_RECORDS}))
        found.append(("POST or PUT", f"{OBJECTS_PATH}Company (insert, or update ?keys="
                      f"{settings.company_key}, as the query answers)", {"records": [record]}))
    for email, record in plan.people.items():
        links = plan.person_companies.get(email)
        found.append(("PUT", PEOPLE_PATH, {**record, "companies": [
            {"Company_ID": f"<Gsid of {value}>"} for value in links]} if links else record))
    for _, record in plan.rows:
        found.append(("POST", OBJECTS_PATH + settings.event_object, {"records": [record]}))
    return found


def configure(destination: Destination, settings: Settings) -> Destination:
    """The destination with its flags: tracks only with --event_object."""
    tracks = ("track",) if settings.event_object else ()
    notes = () if tracks else (
        "track calls are not sent (counted unsupported): give --event_object, the custom "
        "object your Gainsight admin created for them (docs/gainsight-api.md)",)
    return replace(destination, call_types=("identify", "group") + tracks, notes=notes,
                   deliver=functools.partial(deliver, settings),
                   shared_records=functools.partial(company_records, settings),
                   preview=functools.partial(preview_calls, settings))


DESTINATION = Destination(
    name="gainsight-api",
    title="Gainsight CS REST API",
    call_types=("identify", "group"),
    consent_names=("Gainsight",),
    credential=Credential(flag="--access_key", env="GAINSIGHT_ACCESS_KEY",
                          secret_flag="--access_key_secret", problem=key_problem,
                          headers=key_headers,
                          where_to_find="Gainsight: Administration > Connectors > Gainsight API"),
    path="",
    base_urls={},
    key_check=KeyCheck(body=dumps_compact({"select": ["Gsid"], "limit": 1}).encode("utf-8"),
                       valid_statuses=(), path=QUERY_PATH + "Company"),
    max_events_per_request=10_000,   # deliver() gets the whole batch and makes its own calls
    batch_by_user=True,   # a person's identify and group calls merge into one People upsert
    classify=classify,
    retry_after=until_next_minute,
    with_settings=configure,
)
