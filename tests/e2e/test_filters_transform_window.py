"""--destination_filters, --transform and --from/--to through the real CLI against the sandbox:
every event's fate and body, message by message."""
import copy
import gzip
import json

import pytest

from tests.conftest import ACCESS_KEY
from tests.e2e.cli import run_cli, write_jsonl
from transforms.stages.destination_filters import sample_fraction

OUTCOMES = ("invalid", "out_of_window", "duplicates", "skipped_by_integrations", "dropped_by_filter",
            "unsupported", "filtered", "dropped_by_transform", "delivered", "dead_lettered")


def first(prefix, kept: bool):
    """The first of prefix0, prefix1, ... that a 50% sample on it keeps (or drops)."""
    return next(f"{prefix}{n}" for n in range(100) if (sample_fraction(f"{prefix}{n}") < 0.5) is kept)


KEEP, DROP = first("u", True), first("u", False)
INTERNAL = first("int", True)

# The Public API's answer for a destination's filters, as a user exports it.
EXPORT = {"data": {"filters": [
    {"id": "f1", "title": "Drop internal", "enabled": True,
     "if": "match( traits.email, '*@internal.example' ) or contains( properties.email, '@internal.example' )",
     "actions": [{"type": "DROP"}]},
    {"id": "f2", "title": "Only orders and sign-ups", "enabled": True,
     "if": "type = 'track' and !( event in ['Order Completed', 'Signed Up'] )",
     "actions": [{"type": "DROP"}]},
    {"id": "f3", "title": "Sample orders by user", "enabled": True, "if": "event = 'Order Completed'",
     "actions": [{"type": "SAMPLE", "percent": 0.5, "path": "userId"}]},
    {"id": "f4", "title": "Sample sign-ups", "enabled": True, "if": "event = 'Signed Up'",
     "actions": [{"type": "SAMPLE", "percent": 0.5}]},
    {"id": "f5", "title": "No emails", "enabled": True, "if": "type = 'identify' or type = 'track'",
     "actions": [{"type": "DROP_PROPERTIES", "fields": {"traits": ["email"], "properties": ["email"]}}]},
    {"id": "f6", "title": "No product cost", "enabled": True, "if": "length( properties.products ) > 0",
     "actions": [{"type": "DROP_PROPERTIES", "fields": {"properties.products": ["cost"]}}]},
    {"id": "f7", "title": "Group traits allowed", "enabled": True, "if": "type = 'group'",
     "actions": [{"type": "ALLOW_PROPERTIES", "fields": {"traits": ["name", "plan"]}}]},
    {"id": "f8", "title": "Free tier", "enabled": True, "if": "properties.plan\\ tier = 'free'",
     "actions": [{"type": "DROP"}]},
    {"id": "f9", "title": "Everything (disabled)", "enabled": False, "if": "true",
     "actions": [{"type": "DROP"}]},
]}}


def ts(minute):
    return f"2024-11-01T10:{minute:02d}:00Z"


def filter_events():
    """(event, fate, body the sandbox must receive or None) for each line of the export."""
    rows = []

    def add(event, fate, body=None):
        rows.append((event, fate, body))

    add({"type": "identify", "userId": KEEP, "messageId": "i1", "timestamp": ts(0),
         "traits": {"accountId": "A1", "email": "a@x.example", "name": "Ann"}},
        "delivered", {"traits": {"accountId": "A1", "name": "Ann"}})
    add({"type": "track", "userId": KEEP, "messageId": "o1", "event": "Order Completed", "timestamp": ts(1),
         "properties": {"email": "a@x.example", "revenue": 10,
                        "products": [{"sku": "p1", "cost": 3, "price": 5}, {"sku": "p2", "cost": 1}]}},
        "delivered", {"properties": {"revenue": 10, "products": [{"sku": "p1", "price": 5}, {"sku": "p2"}],
                                     "accountId": "A1"}})
    add({"type": "track", "userId": DROP, "messageId": "o2", "event": "Order Completed", "timestamp": ts(2),
         "properties": {"revenue": 1}}, "Sample orders by user")
    for n in range(8):
        message_id = f"su{n}"
        kept = sample_fraction(message_id) < 0.5
        add({"type": "track", "userId": KEEP, "messageId": message_id, "event": "Signed Up", "timestamp": ts(3)},
            "delivered" if kept else "Sample sign-ups", {"properties": {"accountId": "A1"}} if kept else None)
    add({"type": "track", "userId": KEEP, "messageId": "d1", "event": "Dashboard Viewed", "timestamp": ts(4)},
        "Only orders and sign-ups")
    # dropped: its account must not be learned, so the user's order goes without one
    add({"type": "identify", "userId": INTERNAL, "messageId": "i2", "timestamp": ts(5),
         "traits": {"accountId": "ACC-INT", "email": "qa@internal.example"}}, "Drop internal")
    add({"type": "track", "userId": INTERNAL, "messageId": "o3", "event": "Order Completed", "timestamp": ts(6),
         "properties": {"revenue": 2}}, "delivered", {"properties": {"revenue": 2}})
    add({"type": "group", "userId": KEEP, "messageId": "g1", "groupId": "A1", "timestamp": ts(7),
         "traits": {"name": "Acme", "plan": "pro", "employees": 50, "email": "billing@acme.example"}},
        "delivered", {"traits": {"name": "Acme", "plan": "pro"}})
    add({"type": "track", "userId": KEEP, "messageId": "o4", "event": "Order Completed", "timestamp": ts(8),
         "properties": {"plan tier": "free"}}, "Free tier")
    add({"type": "page", "userId": KEEP, "messageId": "p1", "name": "Home", "timestamp": ts(9)}, "unsupported")
    return rows


def expected_body(event, body):
    """The event with the fields `body` names replaced (a nested dict replaces the whole field)."""
    sent = copy.deepcopy(event)
    sent.update(body)
    return sent


def test_destination_filters_decide_each_events_fate_and_body(sandbox, tmp_path):
    rows = filter_events()
    source = write_jsonl(tmp_path / "events.jsonl", [event for event, _, _ in rows])
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps(EXPORT))
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      "--destination_filters", str(filters)], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    received = sandbox.received()
    by_id = {m["messageId"]: m for m in received}
    assert len(received) == len(by_id)
    sent = {event["messageId"]: expected_body(event, body) for event, fate, body in rows if fate == "delivered"}
    assert by_id == sent
    titles = {}
    for _, fate, _ in rows:
        if fate not in ("delivered", "unsupported"):
            titles[fate] = titles.get(fate, 0) + 1
    summary = result.summary
    assert summary["dropped_by_filter_by_title"] == titles
    assert {k: summary[k] for k in OUTCOMES} == {
        **{k: 0 for k in OUTCOMES}, "dropped_by_filter": sum(titles.values()), "unsupported": 1,
        "delivered": len(sent)}
    assert summary["read"] == len(rows) and summary["balanced"]
    assert "dropped_by_filter.Sample orders by user" in result.stdout
    assert len(titles) == 5 and 0 < titles["Sample sign-ups"] < 8   # the sample kept some and not all


TRANSFORM = '''
import json   # a module of the standard library: there on every worker


def shape(event):
    props = event.get("properties") or {}
    if props.get("drop"):
        return None
    if props.get("explode"):
        raise ValueError("no explosions on " + event["messageId"])
    if props.get("wrong"):
        return ["not", "an", "event"]
    if props.get("unjson"):
        props["tags"] = {"a", "set"}
        return event
    if event["type"] == "track":
        props["seen_account"] = props.get("accountId")
        props["json"] = json.dumps([1])
    return event
'''


def test_transform_changes_drops_and_dead_letters_what_it_fails(sandbox, tmp_path):
    script = tmp_path / "my_transform.py"
    script.write_text(TRANSFORM)
    events = [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"accountId": "A1"}, "timestamp": ts(0)},
        {"type": "track", "userId": "u1", "messageId": "t-change", "event": "E", "timestamp": ts(1)},
        {"type": "track", "userId": "u1", "messageId": "t-drop", "event": "E", "properties": {"drop": True},
         "timestamp": ts(2)},
        {"type": "track", "userId": "u1", "messageId": "t-raise", "event": "E", "properties": {"explode": 1},
         "timestamp": ts(3)},
        {"type": "track", "userId": "u1", "messageId": "t-wrong", "event": "E", "properties": {"wrong": 1},
         "timestamp": ts(4)},
        {"type": "track", "userId": "u1", "messageId": "t-x-unjson", "event": "E", "properties": {"unjson": 1},
         "timestamp": ts(5)},
    ]
    source = write_jsonl(tmp_path / "events.jsonl", events)
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      "--transform", f"{script}:shape"], tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    by_id = {m["messageId"]: m for m in sandbox.received()}
    assert len(sandbox.received()) == 2
    assert by_id["i1"] == events[0]
    # the function ran after attribution: it saw the account the identify taught
    assert by_id["t-change"] == {**events[1], "properties": {"accountId": "A1", "seen_account": "A1", "json": "[1]"}}
    dead = sorted(result.dead_letters, key=lambda r: r["event"]["messageId"])
    assert [(r["stage"], r["reason"], r["event"]) for r in dead] == [
        ("transform", "ValueError: no explosions on t-raise",
         {**events[3], "properties": {"explode": 1, "accountId": "A1"}}),
        ("transform", "TypeError: the transform returned list; expected the event (a dict) or None",
         {**events[4], "properties": {"wrong": 1, "accountId": "A1"}}),
        ("transform", "TypeError: the transform's event cannot be written as JSON: Object of type set is not JSON serializable",
         {**events[5], "properties": {"unjson": 1, "accountId": "A1"}}),
    ]
    summary = result.summary
    assert {k: summary[k] for k in ("dropped_by_transform", "dead_lettered", "delivered")} == {
        "dropped_by_transform": 1, "dead_lettered": 3, "delivered": 2}
    assert summary["read"] == 6 and summary["balanced"]


DAY_MS = 86_400_000
DAY1 = 1730419200000   # 2024-11-01T00:00:00Z


def iso(ms):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def test_window_sends_the_range_and_reads_only_its_day_folders(sandbox, tmp_path):
    root = tmp_path / "segment-logs" / "SRC"
    day = {n: DAY1 + (n - 1) * DAY_MS for n in range(1, 6)}

    def folder(n, lines: bytes):
        path = root / str(day[n])
        path.mkdir(parents=True)
        (path / "part.gz").write_bytes(lines)

    def track(message_id, at_ms, received_ms=None, **fields):
        event = {"type": "track", "userId": "u1", "messageId": message_id, "event": "E", **fields}
        if at_ms is not None:
            event["timestamp"] = iso(at_ms)
        event["receivedAt"] = iso(received_ms if received_ms is not None else (at_ms or day[3]))
        return event

    def gz(*events):
        return gzip.compress("\n".join(json.dumps(e) for e in events).encode())

    # Window: day 3. Day folders 1, 2 and 5 are damaged: reading them would be counted.
    for n in (1, 2, 5):
        folder(n, b"not gzip at all")
    folder(3, gz(track("in-first", day[3]),                                 # from: inclusive
                 track("in-late-day", day[4] - 1),
                 track("before", day[3] - 1, received_ms=day[3] + 5),     # sent late, stamped day 2
                 track("no-time", None, received_ms=None) | {"receivedAt": None}))
    folder(4, gz(track("received-next-day", day[3] + 3600_000, received_ms=day[4] + 60),  # offline queue
                 track("at-to", day[4])))                                   # to: exclusive
    loose = write_jsonl(tmp_path / "extra.jsonl", [
        {"type": "track", "userId": "u2", "messageId": "jsonl-sent-at", "event": "E",
         "sentAt": iso(day[3] + 10)},                                       # no timestamp: sentAt
        {"type": "track", "userId": "u2", "messageId": "jsonl-day1", "event": "E", "timestamp": iso(day[1])},
    ])
    result = run_cli(["--input", str(tmp_path / "segment-logs"), "--input", str(loose),
                      "--gainsight_endpoint", sandbox.url, "--from", "2024-11-03", "--to", "2024-11-04T00:00:00Z"],
                     tmp_path / "out", ACCESS_KEY)
    assert result.code == 0, result.stderr
    assert sorted(m["messageId"] for m in sandbox.received()) == [
        "in-first", "in-late-day", "jsonl-sent-at", "received-next-day"]
    summary = result.summary
    assert summary["unreadable_files"] == 0 and result.dead_letters == []   # folders 1, 2, 5 unread
    assert summary["read"] == 8
    assert {k: summary[k] for k in ("out_of_window", "delivered")} == {"out_of_window": 4, "delivered": 4}
    assert summary["balanced"]


@pytest.mark.parametrize("flags,says", [
    (["--destination_filters", "{filters}"], "--destination_filters: {filters}: filter 'Broken': `if` unexpected ')' at position 16: type = 'track' )"),
    (["--transform", "{bad_syntax}:shape"], "--transform: {bad_syntax}, line 2: SyntaxError"),
    (["--transform", "{needs_module}:shape"], "--transform: {needs_module}: ModuleNotFoundError: No module named 'not_installed_anywhere'"),
    (["--transform", "{good}:missing"], "--transform: {good} defines no function 'missing'"),
    (["--transform", "{good}"], "--transform: expected FILE.py:FUNCTION"),
    (["--from", "last tuesday"], "--from: not an ISO-8601 date or instant: 'last tuesday'"),
    (["--from", "2024-11-02", "--to", "2024-11-01"], "--to: --to must be later than --from"),
])
def test_bad_configuration_fails_at_start_up_naming_the_flag_and_reads_nothing(sandbox, tmp_path, flags, says):
    files = {"filters": tmp_path / "filters.json", "bad_syntax": tmp_path / "bad.py",
             "needs_module": tmp_path / "needs.py", "good": tmp_path / "good.py"}
    files["filters"].write_text(json.dumps([
        {"title": "Fine", "if": "type = 'track'", "actions": [{"type": "DROP"}]},
        {"title": "Broken", "if": "type = 'track' )", "actions": [{"type": "DROP"}]}]))
    files["bad_syntax"].write_text("def shape(event):\n    return event +\n")
    files["needs_module"].write_text("import not_installed_anywhere\n\ndef shape(event):\n    return event\n")
    files["good"].write_text("def shape(event):\n    return event\n")
    source = write_jsonl(tmp_path / "events.jsonl", [{"type": "track", "userId": "u", "messageId": "m", "event": "E"}])
    names = {name: str(path) for name, path in files.items()}
    result = run_cli(["--input", str(source), "--gainsight_endpoint", sandbox.url,
                      *[flag.format(**names) for flag in flags]], tmp_path / "out", ACCESS_KEY)
    assert result.code == 2
    assert says.format(**names) in result.stderr
    assert sandbox.received() == [] and result.summary is None and result.dead_letters == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
