"""The sandbox's `gainsight-api` mode: Gainsight CS's REST API held in memory.

    PUT  /v1.0/api/people                       one Person: {"Email": ..., "companies": [{"Company_ID": Gsid}]}
    POST /v1/data/objects/query/<Object>        {"select": [...], "where": {"conditions": [{"name",
                                                 "alias", "value": [...], "operator": "IN"}]}, "limit"}
    POST /v1/data/objects/<Object>              {"records": [...]}        insert (at most 50)
    PUT  /v1/data/objects/<Object>?keys=Name    {"records": [...]}        update by the key fields
    header accesskey: KEY

Every answer is the envelope {"result", "errorCode", "errorDesc", "requestId", "data"}:

    200 {"result": true, ..., "data": {"records": [{"Gsid": "1P02..."}]}}
    400 {"result": false, "errorCode": "GSOBJ_1002", "errorDesc": "unknown field Foo__gc", "data": null}
    400 {"result": false, "errorCode": "GSOBJ_1003", ..., "data": {"errors": [{"index": 3,
         "errorCode": "GSOBJ_1003", "errorDesc": "Employees must be a number"}]}}
                                   (data.errors only when the store names bad records: name_errors)
    401 {"result": false, "errorCode": "GU_1101", ...}         missing or wrong accesskey
    429 {"result": false, "errorCode": "GU_2400", ...}         the minute's calls, or the day's, spent

Rules (the contract in the project's design notes; codes other than GSOBJ_1002 and GU_2400
are this sandbox's own choice within the documented GSOBJ_1001..1009 range):
- Schema: SCHEMA below; a field it does not know fails the whole call (GSOBJ_1002), as does
  more than 50 records (GSOBJ_1007). Server-set fields (Gsid, CreatedDate, ...) may not be sent.
- Values: "string" fields hold text of at most 255 characters, "text" at most 32,000, "number"
  a number, "datetime" an ISO-8601 time (GSOBJ_1003); a Person needs Email, a Company Name
  (GSOBJ_1001); insert of a Company Name that exists fails (GSOBJ_1004); update of a key that
  does not exist fails (GSOBJ_1005); a Person's link to a Company Gsid that does not exist
  fails (GSOBJ_1006). One bad record fails the whole call (nothing of it is kept).
- People: upsert by Email; the fields given replace those stored, links add to the Person's.
- Quota: calls are counted per fixed wall-clock minute and per UTC day; past
  `requests_per_minute` or `requests_per_day` a call is answered 429 GU_2400 (no Retry-After).
"""
import itertools
import json
import math
import time
from collections import Counter
from datetime import datetime
from typing import Any

PEOPLE_PATH = "/v1.0/api/people"
OBJECTS_PATH = "/v1/data/objects/"
QUERY_PATH = "/v1/data/objects/query/"
MAX_RECORDS = 50
SERVER_FIELDS = ("Gsid", "CreatedDate", "ModifiedDate", "CreatedBy", "ModifiedBy")
MAX_CHARS = {"string": 255, "text": 32_000}

# object -> field -> kind. Company and Person standard fields plus the custom fields (__gc) a
# tenant's admin would have created for the tests and the demo; SegmentEvent__gc is the custom
# object docs/gainsight-api.md asks the admin to create.
SCHEMA = {
    "Company": {"Name": "string", "Industry": "string", "Employees": "number", "Arr": "number",
                "Stage": "string", "SegmentId__gc": "string", "Plan__gc": "string",
                "Website__gc": "string"},
    "Person": {"Email": "string", "FirstName": "string", "LastName": "string", "Name": "string",
               "Title": "string", "Plan__gc": "string", "SegmentUserId__gc": "string"},
    "SegmentEvent__gc": {"EventName__gc": "string", "UserId__gc": "string",
                         "AccountId__gc": "string", "Timestamp__gc": "datetime",
                         "MessageId__gc": "string", "Properties__gc": "text"},
}
REQUIRED = {"Company": "Name", "Person": "Email"}


class ApiError(Exception):
    """A call the API refuses: status, errorCode, errorDesc, and data (e.g. {"errors": [...]})."""

    def __init__(self, status: int, code: str, desc: str, data: Any = None):
        super().__init__(f"{code}: {desc}")
        self.status, self.code, self.desc, self.data = status, code, desc, data


def envelope(result: bool, data: Any = None, code: str | None = None, desc: str | None = None,
             request_id: str = "") -> dict:
    return {"result": result, "errorCode": code, "errorDesc": desc, "requestId": request_id,
            "data": data}


class Quota:
    """Calls per fixed wall-clock minute and per UTC day; `clock` gives unix seconds."""

    def __init__(self, per_minute: int, per_day: int, clock=time.time):
        self.per_minute, self.per_day, self._clock = per_minute, per_day, clock
        self.per_minute_counts: Counter[int] = Counter()
        self.per_day_counts: Counter[int] = Counter()
        self.refused = 0

    def take(self) -> str | None:
        """None when a call may go on now (and counts it), else why not."""
        now = self._clock()
        minute, day = int(now // 60), int(now // 86_400)
        if self.per_day_counts[day] >= self.per_day:
            self.refused += 1
            return f"the day's {self.per_day} API calls are spent"
        if self.per_minute_counts[minute] >= self.per_minute:
            self.refused += 1
            return f"more than {self.per_minute} API calls in this minute"
        self.per_minute_counts[minute] += 1
        self.per_day_counts[day] += 1
        return None

    def as_json(self) -> dict:
        return {"per_minute_limit": self.per_minute, "per_day_limit": self.per_day,
                "max_calls_in_a_minute": max(self.per_minute_counts.values(), default=0),
                "max_calls_in_a_day": max(self.per_day_counts.values(), default=0),
                "rate_limited": self.refused}


class Store:
    """People, Companies and custom-object rows, in memory.

    >>> store = Store()
    >>> gsid = store.insert("Company", [{"Name": "Hooli"}])[0]["Gsid"]
    >>> store.upsert_person({"Email": "a@hooli.example", "companies": [{"Company_ID": gsid}]})["Email"]
    'a@hooli.example'
    >>> store.query("Company", {"select": ["Name"], "where": {"conditions": [
    ...     {"name": "Name", "alias": "A", "value": ["Hooli"], "operator": "IN"}]}})
    [{'Name': 'Hooli'}]
    """

    def __init__(self, name_errors: bool = True):
        self.name_errors = name_errors   # answers name the bad records in data.errors
        self.people: dict[str, dict] = {}
        self.rows: dict[str, dict[str, dict]] = {name: {} for name in SCHEMA if name != "Person"}
        self._ids = itertools.count(1)

    def _gsid(self) -> str:
        return f"1P{next(self._ids):018d}"

    def snapshot(self) -> dict:
        """{"people": [Person, ...], "companies": [...], "objects": {"SegmentEvent__gc": [...]}},
        each Person with "companies": [Company Gsid, ...] (sorted)."""
        people = [{**person, "companies": sorted(person["companies"])} for person in self.people.values()]
        return {"people": people, "companies": list(self.rows["Company"].values()),
                "objects": {name: list(rows.values()) for name, rows in self.rows.items()
                            if name != "Company"}}

    # -- validation --------------------------------------------------------------------

    def _check_fields(self, obj: str, records: list, extra: tuple = ()) -> None:
        """Whole-call checks: the object exists, records is a list of at most 50 objects, and
        every field is in the schema (GSOBJ_1002)."""
        if obj not in SCHEMA or obj == "Person" and not extra:
            raise ApiError(400, "GSOBJ_1008", f"unknown object {obj}")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "GSOBJ_1009", "records must be a list of objects")
        if len(records) > MAX_RECORDS:
            raise ApiError(400, "GSOBJ_1007", f"at most {MAX_RECORDS} records a call, got {len(records)}")
        for record in records:
            for name in record:
                if name in SERVER_FIELDS:
                    raise ApiError(400, "GSOBJ_1002", f"{name} is set by the server")
                if name not in SCHEMA[obj] and name not in extra:
                    raise ApiError(400, "GSOBJ_1002", f"unknown field {name} on {obj}")

    def _record_errors(self, obj: str, records: list, problem) -> None:
        """Per-record checks (value kinds, required fields, `problem(i, record)`): any failure
        fails the call, naming the records in data.errors when name_errors."""
        errors = []
        for index, record in enumerate(records):
            found = _value_problem(obj, record) or problem(index, record)
            if found:
                errors.append({"index": index, "errorCode": found[0], "errorDesc": found[1]})
        if errors:
            first = errors[0]
            raise ApiError(400, first["errorCode"], first["errorDesc"] if len(errors) == 1 else
                           f"{len(errors)} records failed validation",
                           {"errors": errors} if self.name_errors else None)

    # -- operations --------------------------------------------------------------------

    def upsert_person(self, person: Any) -> dict:
        if not isinstance(person, dict):
            raise ApiError(400, "GSOBJ_1009", "the body must be one Person object")
        self._check_fields("Person", [person], extra=("companies",))
        links = person.get("companies", [])

        def problem(index, record):
            if not isinstance(record.get("Email"), str) or not record["Email"]:
                return "GSOBJ_1001", "Email is required"
            if not isinstance(links, list) or not all(
                    isinstance(link, dict) and set(link) == {"Company_ID"} for link in links):
                return "GSOBJ_1009", 'companies must be a list of {"Company_ID": Gsid}'
            for link in links:
                if link["Company_ID"] not in self.rows["Company"]:
                    return "GSOBJ_1006", f"no Company with Gsid {link['Company_ID']}"
            return None

        self._record_errors("Person", [person], problem)
        fields = {k: v for k, v in person.items() if k != "companies"}
        stored = self.people.setdefault(fields["Email"], {"Gsid": self._gsid(), "companies": set()})
        stored.update(fields)
        stored["companies"].update(link["Company_ID"] for link in links)
        return {"Gsid": stored["Gsid"], "Email": stored["Email"]}

    def insert(self, obj: str, records: Any) -> list:
        self._check_fields(obj, records)
        names = [record.get("Name") for record in records]

        def problem(index, record):
            if obj == "Company":
                if self._by_key(obj, ("Name",), (record.get("Name"),)) \
                        or names.index(record.get("Name")) != index:
                    return "GSOBJ_1004", f"a Company named {record.get('Name')!r} exists"
            return None

        self._record_errors(obj, records, problem)
        answers = []
        for record in records:
            gsid = self._gsid()
            self.rows[obj][gsid] = {"Gsid": gsid, **record}
            answers.append({"Gsid": gsid})
        return answers

    def update(self, obj: str, keys: tuple, records: Any) -> list:
        self._check_fields(obj, records)
        if not keys or len(keys) > 3 or any(key not in SCHEMA.get(obj, {}) for key in keys):
            raise ApiError(400, "GSOBJ_1002", f"keys must be 1 to 3 fields of {obj}")

        def problem(index, record):
            values = tuple(record.get(key) for key in keys)
            if not self._by_key(obj, keys, values):
                return "GSOBJ_1005", f"no {obj} with {', '.join(keys)} = {values!r}"
            return None

        self._record_errors(obj, records, problem)
        answers = []
        for record in records:
            for gsid in self._by_key(obj, keys, tuple(record.get(key) for key in keys)):
                self.rows[obj][gsid].update(record)
                answers.append({"Gsid": gsid})
        return answers

    def query(self, obj: str, body: Any) -> list:
        if obj not in self.rows:
            raise ApiError(400, "GSOBJ_1008", f"unknown object {obj}")
        if not isinstance(body, dict) or not isinstance(body.get("select"), list):
            raise ApiError(400, "GSOBJ_1009", "a query needs select: [fields]")
        known = set(SCHEMA[obj]) | {"Gsid"}
        conditions = (body.get("where") or {}).get("conditions", [])
        for name in body["select"] + [c.get("name") for c in conditions]:
            if name not in known:
                raise ApiError(400, "GSOBJ_1002", f"unknown field {name} on {obj}")
        rows = list(self.rows[obj].values())
        for condition in conditions:   # every condition must hold (the expression "A AND B")
            values = condition.get("value", [])
            if condition.get("operator") not in ("IN", "EQ"):
                raise ApiError(400, "GSOBJ_1009", "operators supported here: IN, EQ")
            rows = [row for row in rows if row.get(condition["name"]) in values]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 5000))
        return [{name: row.get(name) for name in body["select"]} for row in rows[offset:offset + limit]]

    def _by_key(self, obj: str, keys: tuple, values: tuple) -> list:
        return [gsid for gsid, row in self.rows[obj].items()
                if tuple(row.get(key) for key in keys) == values]


def _value_problem(obj: str, record: dict) -> tuple | None:
    required = REQUIRED.get(obj)
    if required and (not isinstance(record.get(required), str) or not record[required]):
        return "GSOBJ_1001", f"{required} is required"
    for name, value in record.items():
        kind = SCHEMA[obj].get(name)
        if kind is None or value is None:
            continue
        if kind in MAX_CHARS and (not isinstance(value, str) or len(value) > MAX_CHARS[kind]):
            return "GSOBJ_1003", f"{name} must be text of at most {MAX_CHARS[kind]} characters"
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                 or not math.isfinite(value)):
            return "GSOBJ_1003", f"{name} must be a number"
        if kind == "datetime" and not _is_datetime(value):
            return "GSOBJ_1003", f"{name} must be an ISO-8601 date and time"
    return None


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def answer_call(store: Store, method: str, path: str, query: dict, body: bytes) -> tuple[int, Any]:
    """(status, data) of one well-authorised call within quota; raises ApiError."""
    try:
        payload = json.loads(body) if body else None
    except ValueError as error:
        raise ApiError(400, "GSOBJ_1009", f"body is not valid JSON: {error}") from None
    if path == PEOPLE_PATH and method == "PUT":
        return 200, store.upsert_person(payload)
    if path.startswith(QUERY_PATH) and method == "POST":
        return 200, {"records": store.query(path[len(QUERY_PATH):], payload)}
    if path.startswith(OBJECTS_PATH) and "/" not in path[len(OBJECTS_PATH):]:
        obj = path[len(OBJECTS_PATH):]
        records = payload.get("records") if isinstance(payload, dict) else None
        if method == "POST":
            return 200, {"records": store.insert(obj, records)}
        if method == "PUT":
            keys = tuple(key for key in query.get("keys", "").split(",") if key)
            return 200, {"records": store.update(obj, keys, records)}
    raise ApiError(404, "GS_404", f"no such API: {method} {path}")
