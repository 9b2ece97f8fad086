"""Deterministic generator of a realistic Segment raw archive for the benchmarks.

    python -m bench.generate --events 1000000 --out /tmp/seg [--files K] [--plain] [--seed S]

Writes, streaming (one file open at a time; memory is bounded by the user table, about
N/40 small records, and a ring of the last few thousand events for duplicates):

    DIR/segment-logs/<source>/<day-epoch-ms>/<first-received-epoch-s>-<nnnnn>.gz   (or .jsonl with --plain)
    DIR/account_mapping.csv     userId,accountId for a share of the users (and some anonymousIds)
    DIR/manifest.json           the flags to use (input glob, whitelist, mapping) and the exact
                                expected outcome counts (see `expected` below)

and prints the manifest as JSON. Same seed and arguments -> byte-identical files (seeded
random.Random, no wall clock, gzip mtime 0 and no file name).

Exactly N lines are written (no blank lines), so the job's `read` is N. Mix of the lines:
~1% duplicates (copies of a recent valid event, half of them received again later with another
`receivedAt`), ~0.5% malformed lines (each certainly invalid), the rest "originals": ~70% track
over 36 names (a dozen of them whitelisted, some spelt with other case/separators), 15%
identify, 5% group, 10% page/screen; ~2.5% opted out through `integrations`; 0.5% without a
messageId (the job derives one). Timestamps span three weeks in mixed ISO-8601 shapes
(Z, milliseconds, +02:00, +00:00, -05:00, no offset, microseconds); mobile events are sometimes
received hours after they happened. Users (N/40) belong to accounts (users/10); some switch
account mid-period; 60% of users tell their account through group calls or identify
`traits.accountId`, the others only through the mapping file (or not at all). 6% of a web
user's non-group events are sent before login (anonymousId only), so that the job links them to
the user through the same anonymousId on the user's other events (stitching).

`expected` in the manifest is computed from what the generator decided for each line (not by
running the job's rules): read, invalid, duplicates, skipped_by_integrations, unsupported,
filtered, previewed and by_type, for a run with the manifest's whitelist. A copy of an event
that is not sent counts under the same reason as the event; `duplicates` counts copies of
events that are sent (the job deduplicates after its filters).
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import time
from itertools import accumulate
from pathlib import Path

import orjson

SOURCE_ID = "bnch7Qx2Lm"
START_MS = 1730419200000          # 2024-11-01T00:00:00Z
SPAN_MS = 21 * 86400000           # three weeks
DAY_MS = 86400000
DEFAULT_SEED = 20241101
GENERATOR_VERSION = 3
EVENTS_PER_FILE = 50_000          # default --files: ceil(N / EVENTS_PER_FILE), at least 4
WRITE_CHUNK_LINES = 2000

DUPLICATE_RATE = 0.01
MALFORMED_RATE = 0.005
DUP_RING = 4096
PRE_LOGIN_RATE = 0.06   # web users' events sent before login: anonymousId only

TRACK_NAMES = (
    # (name, weight); the first twelve are in WHITELIST
    ("Order Completed", 6), ("Signed Up", 3), ("Trial Started", 2), ("Feature Used", 14),
    ("Report Exported", 5), ("Plan Upgraded", 1), ("Subscription Cancelled", 1),
    ("Integration Connected", 2), ("Project Created", 4), ("Invite Sent", 3), ("Logged In", 10),
    ("NPS Responded", 1),
    ("Dashboard Viewed", 12), ("Settings Updated", 3), ("Plan Downgraded", 1), ("Project Archived", 1),
    ("Comment Added", 6), ("File Uploaded", 4), ("Search Performed", 7), ("Logged Out", 4),
    ("Password Reset", 1), ("Workspace Created", 1), ("Member Removed", 1), ("API Key Created", 1),
    ("Webhook Configured", 1), ("Export Started", 2), ("Import Completed", 1),
    ("Notification Clicked", 3), ("Email Opened", 3), ("Survey Submitted", 1),
    ("Onboarding Step Completed", 2), ("Tutorial Skipped", 1), ("Video Played", 2),
    ("Help Article Viewed", 3), ("Support Ticket Created", 1), ("Checkout Started", 2),
)
WHITELIST = tuple(name for name, _ in TRACK_NAMES[:12])
WHITELIST_FLAG = ",".join(WHITELIST)

PAGES = (("/dashboards", "Dashboards"), ("/reports", "Reports"), ("/settings", "Settings"),
         ("/projects", "Projects"), ("/billing", "Billing"), ("/app", "Home"),
         ("/settings/team", "Team"), ("/inbox", "Inbox"), ("/search", "Search"))
SCREENS = ("Home", "Dashboards", "Project Detail", "Inbox", "Settings", "Report Viewer")
PLANS = ("starter", "growth", "business", "enterprise")
FEATURES = ("pipeline-builder", "bulk-edit", "ai-summary", "custom-fields", "api-tokens",
            "scheduled-reports", "audit-log", "sso-setup", "kanban-view", "time-tracking")
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Education", "Media")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR")
TIMEZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo",
             "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney")
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
)
IOS_MODELS = ("iPhone15,2", "iPhone14,5", "iPhone16,1", "iPad13,4")
FIRST_NAMES = ("Ada", "Grace", "Linus", "Erin", "Greg", "Maya", "Omar", "Priya", "Sven", "Yuki",
               "Lena", "Tomas", "Nia", "Kofi", "Ines", "Raj", "Zoe", "Hugo", "Mei", "Ivan")
LAST_NAMES = ("Lovelace", "Hopper", "Walsh", "Novak", "Okafor", "Schmidt", "Tanaka", "Garcia",
              "Kowalski", "Haddad", "Nguyen", "Rossi", "Dubois", "Silva", "Berg", "Mensah")
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Tyrell", "Soylent",
                 "Wonka", "Cyberdyne", "Piper", "Vandelay", "Nakatomi", "Aperture", "Oscorp",
                 "Gringotts", "Monarch", "Dunder", "Prestige", "Sterling", "Bluth", "Gekko")
COMPANY_SUFFIXES = ("Corp", "Inc", "Labs", "GmbH", "Ltd", "Systems", "Group", "Analytics")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# integrations objects and whether Gainsight receives the event (Segment's rules)
INTEGRATIONS = (
    ({}, True, 955),
    ({"Gainsight": False}, False, 15),
    ({"All": False}, False, 10),
    ({"All": False, "Gainsight": True}, True, 10),
    ({"Salesforce": False}, True, 5),
    ({"All": True, "Intercom": False}, True, 5),
)
# timestamp shapes and weights
TIME_SHAPES = (("ms", 50), ("z", 18), ("plus2", 10), ("zero_offset", 10), ("minus5", 5),
               ("naive", 4), ("micro", 3))
MALFORMED_KINDS = ("truncated", "latin1", "no_type", "empty_event", "no_ids", "group_no_id",
                   "properties_list", "nan", "array", "traits_string", "numeric_type")

_LIB_JS = {"name": "analytics.js", "version": "next-1.72.1"}
_LIB_IOS = {"name": "analytics-ios", "version": "4.1.8"}
_LIB_PY = {"name": "analytics-python", "version": "2.3.3"}
_IOS_OS = {"name": "iOS", "version": "17.6.1"}
_IOS_NET = {"carrier": "T-Mobile", "cellular": False, "wifi": True}
_IOS_SCREEN = {"height": 852, "width": 393}
_IOS_APP = {"build": "5312", "name": "Example", "namespace": "com.example.app", "version": "5.3.1"}

_DATES: dict[int, str] = {}


def _date(day: int) -> str:
    text = _DATES.get(day)
    if text is None:
        text = _DATES[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    return text


def iso(ms: int, shape: str = "ms") -> str:
    """An ISO-8601 text of the instant `ms` (epoch milliseconds) in one of TIME_SHAPES."""
    offset = {"plus2": 120, "minus5": -300}.get(shape, 0)
    day, rest = divmod(ms + offset * 60000, DAY_MS)
    seconds, milli = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    base = f"{_date(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if shape == "ms":
        return f"{base}.{milli:03d}Z"
    if shape == "z":
        return base + "Z"
    if shape == "plus2":
        return f"{base}.{milli:03d}+02:00"
    if shape == "minus5":
        return base + "-05:00"
    if shape == "zero_offset":
        return f"{base}.{milli:03d}+00:00"
    if shape == "naive":
        return f"{base}.{milli:03d}"
    return f"{base}.{milli:03d}000Z"  # micro


class _Users:
    """The user table: parallel lists indexed by user number (memory ~ N/40 records)."""

    def __init__(self, rng: random.Random, n_users: int, n_visitors: int, n_accounts: int):
        self.account_ids = [_salesforce_id(rng) for _ in range(n_accounts)]
        self.account_names = [f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)} {i}"
                              for i in range(n_accounts)]
        self.account_plan = [rng.choice(PLANS) for _ in range(n_accounts)]
        self.user_id, self.anon_id, self.kind = [], [], []
        self.account, self.account2, self.switch_ms = [], [], []
        self.history, self.mapped, self.mapped_to = [], [], []
        self.first, self.last, self.locale, self.tz, self.ua, self.ip = [], [], [], [], [], []
        for number in range(n_users):
            shape = rng.random()
            if shape < 0.6:
                user_id = "usr_" + "".join(rng.choice(BASE62) for _ in range(12))
            elif shape < 0.85:
                user_id = str(100000 + number * 7 + rng.randrange(7))
            else:
                user_id = f"u-{_uuid(rng)}"
            kind = rng.choices(("web", "ios", "server"), (70, 20, 10))[0]
            self.user_id.append(user_id)
            self.anon_id.append(_uuid(rng).upper() if kind == "ios" else _uuid(rng))
            self.kind.append(kind)
            account = rng.randrange(n_accounts)
            self.account.append(account)
            if rng.random() < 0.05:   # moves to another account during the three weeks
                self.account2.append(rng.randrange(n_accounts))
                self.switch_ms.append(START_MS + rng.randrange(SPAN_MS))
            else:
                self.account2.append(-1)
                self.switch_ms.append(0)
            history = rng.random() < 0.6
            self.history.append(history)
            # mapping rows: most users without history, a few stale rows for users with history
            mapped = rng.random() < (0.1 if history else 0.45)
            self.mapped.append(mapped)
            self.mapped_to.append((account if rng.random() < 0.8 else rng.randrange(n_accounts))
                                  if mapped else -1)
            self.first.append(rng.choice(FIRST_NAMES))
            self.last.append(rng.choice(LAST_NAMES))
            self.locale.append(rng.choice(LOCALES))
            self.tz.append(rng.choice(TIMEZONES))
            self.ua.append(rng.choice(USER_AGENTS))
            self.ip.append(f"{rng.choice((203, 198, 192, 81, 145))}.{rng.randrange(256)}."
                           f"{rng.randrange(256)}.{rng.randrange(1, 255)}")
        self.history_users = [i for i in range(n_users) if self.history[i]] or [0]
        self.visitor_anon = [_uuid(rng) for _ in range(n_visitors)]
        self.visitor_mapped = [rng.randrange(n_accounts) if rng.random() < 0.2 else -1
                               for _ in range(n_visitors)]

    def account_at(self, user: int, ms: int) -> int:
        if self.account2[user] >= 0 and ms >= self.switch_ms[user]:
            return self.account2[user]
        return self.account[user]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _salesforce_id(rng: random.Random) -> str:
    id15 = "0015g0000" + "".join(rng.choice(BASE62) for _ in range(6))
    suffix = ""
    for i in range(3):
        chunk = id15[i * 5:(i + 1) * 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix


class _Stream:
    """Writes the lines of the archive, one file at a time, in generation order."""

    def __init__(self, root: Path, total: int, files: int, plain: bool):
        self.root, self.total, self.files, self.plain = root, total, files, plain
        self.file_index = -1
        self.handle = self.raw = None
        self.buffer: list[bytes] = []
        self.paths: list[str] = []

    def file_for(self, line_index: int) -> int:
        return line_index * self.files // self.total

    def write(self, line_index: int, received_ms: int, line: bytes):
        index = self.file_for(line_index)
        if index != self.file_index:
            self._open(index, received_ms)
        self.buffer.append(line)
        if len(self.buffer) >= WRITE_CHUNK_LINES:
            self._flush()

    def _open(self, index: int, received_ms: int):
        self.close()
        day_ms = received_ms - received_ms % DAY_MS
        directory = self.root / "segment-logs" / SOURCE_ID / str(day_ms)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{received_ms // 1000}-{index:05d}" + (".jsonl" if self.plain else ".gz")
        path = directory / name
        self.paths.append(str(path))
        self.raw = open(path, "wb")
        self.handle = (self.raw if self.plain else
                       gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=6))
        self.file_index = index

    def _flush(self):
        if self.buffer:
            self.handle.write(b"\n".join(self.buffer) + b"\n")
            self.buffer = []

    def close(self):
        if self.handle is not None:
            self._flush()
            if self.handle is not self.raw:
                self.handle.close()
            self.raw.close()
            self.handle = self.raw = None


def default_files(events: int) -> int:
    return max(4, -(-events // EVENTS_PER_FILE))


def generate(events: int, out: str | Path, *, files: int | None = None, plain: bool = False,
             seed: int = DEFAULT_SEED) -> dict:
    """Writes the archive, mapping and manifest under `out`; returns the manifest dict."""
    if events < 1:
        raise ValueError("events must be >= 1")
    files = max(1, min(files or default_files(events), events))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "segment-logs", ignore_errors=True)
    (out / "manifest.json").unlink(missing_ok=True)
    rng = random.Random(seed)
    n_users = max(50, events // 40)
    users = _Users(rng, n_users, max(10, n_users // 4), max(10, n_users // 10))
    names = [name for name, _ in TRACK_NAMES]
    cumulative_weights = list(accumulate(weight for _, weight in TRACK_NAMES))
    total_weight = cumulative_weights[-1]
    whitelisted = set(WHITELIST)
    shape_names = [s for s, _ in TIME_SHAPES]
    shape_cum = list(accumulate(weight for _, weight in TIME_SHAPES))
    integ_cum = list(accumulate(weight for _, _, weight in INTEGRATIONS))

    expected = {"read": events, "invalid": 0, "duplicates": 0, "skipped_by_integrations": 0,
                "unsupported": 0, "filtered": 0, "previewed": 0,
                "by_type": {"track": 0, "identify": 0, "group": 0},
                "unsupported_by_type": {"page": 0, "screen": 0}}
    mix = {"track": 0, "identify": 0, "group": 0, "page": 0, "screen": 0}
    ring: list[tuple[dict, tuple]] = []   # (recent valid event, its outcome)
    ring_next = 0
    copies = 0
    stream = _Stream(out, events, files, plain)
    step = SPAN_MS / events
    sort_keys = orjson.OPT_SORT_KEYS
    bytes_written = 0
    try:
        for index in range(events):
            received = START_MS + int(index * step) + rng.randrange(max(1, int(step)) + 1)
            draw = rng.random()
            if draw < DUPLICATE_RATE and ring:
                original, original_outcome = ring[rng.randrange(len(ring))]
                copy = original
                if "messageId" in original and rng.random() < 0.5:
                    # the same message received again later (client retry): another receivedAt
                    copy = {**original, "receivedAt": iso(received)}
                line = orjson.dumps(copy, option=sort_keys)
                _count_outcome(expected, original_outcome, copy=True)
                copies += 1
            elif draw < DUPLICATE_RATE + MALFORMED_RATE:
                event, _ = _event(rng, users, received, names, cumulative_weights, total_weight,
                                  shape_names, shape_cum, integ_cum)
                line = _malform(rng, event)
                expected["invalid"] += 1
            else:
                event, track_name_whitelisted = _event(
                    rng, users, received, names, cumulative_weights, total_weight, shape_names,
                    shape_cum, integ_cum, whitelisted)
                consented = event.pop("_consented")
                line = orjson.dumps(event, option=sort_keys)
                call_type = event["type"]
                mix[call_type] += 1
                if not consented:
                    outcome = ("skipped_by_integrations", None)
                elif call_type in ("page", "screen"):
                    outcome = ("unsupported", call_type)
                elif call_type == "track" and not track_name_whitelisted:
                    outcome = ("filtered", None)
                else:
                    outcome = ("previewed", call_type)
                _count_outcome(expected, outcome, copy=False)
                if len(ring) < DUP_RING:
                    ring.append((event, outcome))
                else:
                    ring[ring_next] = (event, outcome)
                    ring_next = (ring_next + 1) % DUP_RING
            bytes_written += len(line) + 1
            stream.write(index, received, line)
    finally:
        stream.close()

    mapping_path = out / "account_mapping.csv"
    _write_mapping(mapping_path, users, rng)
    suffix = "jsonl" if plain else "gz"
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "events": events, "files": files, "plain": plain, "seed": seed,
        "users": n_users, "visitors": len(users.visitor_anon), "accounts": len(users.account_ids),
        "input": str(out / "segment-logs" / "*" / "*" / f"*.{suffix}"),
        "account_mapping": str(mapping_path),
        "track_whitelist": WHITELIST_FLAG,
        "uncompressed_bytes": bytes_written,
        "mean_line_bytes": round(bytes_written / events - 1, 1),
        "originals_by_type": mix,
        "copies": copies,   # duplicate lines written, of any event (expected duplicates: of sent ones)
        "expected": expected,
        "paths": len(stream.paths),
    }
    with open(out / "manifest.json", "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    return manifest


def _pick(cumulative, total, rng):
    draw = rng.random() * total
    low, high = 0, len(cumulative) - 1
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] > draw:
            high = middle
        else:
            low = middle + 1
    return low


def _message_id(rng: random.Random, kind: str) -> str:
    if kind == "web":
        return f"ajs-next-{rng.getrandbits(128):032x}"
    text = _uuid(rng)
    return text.upper() if kind == "ios" else text


def _count_outcome(expected: dict, outcome: tuple, copy: bool):
    """Adds one line's outcome (counter, call type or None) to `expected`: a copy of a sent event
    is a duplicate; a copy of a skipped one is skipped for the same reason."""
    counter, call_type = outcome
    if copy and counter == "previewed":
        expected["duplicates"] += 1
        return
    expected[counter] += 1
    if counter == "unsupported":
        expected["unsupported_by_type"][call_type] += 1
    elif counter == "previewed":
        expected["by_type"][call_type] += 1


def _event(rng, users: _Users, received: int, names, name_cum, name_total, shape_names,
           shape_cum, integ_cum, whitelisted=None):
    """One valid event received at `received`; returns (event, whitelisted track name?)."""
    draw = rng.random()
    call = ("track" if draw < 0.70 else "identify" if draw < 0.85 else "group" if draw < 0.90
            else "page")
    visitor = -1
    if call == "group":
        user = users.history_users[int(len(users.history_users) * rng.random() ** 1.5)]
    elif call != "group" and rng.random() < 0.08:
        visitor = rng.randrange(len(users.visitor_anon))
        user = -1
    else:
        user = int(len(users.user_id) * rng.random() ** 1.5)  # a few heavy users
    kind = "web" if visitor >= 0 else users.kind[user]
    if call == "page" and kind == "ios":
        call = "screen"
    # when it happened: shortly before it was received; mobile sometimes hours earlier (offline)
    delay = rng.randrange(60, 2400)
    if kind == "ios" and rng.random() < 0.03:
        delay += rng.randrange(3600_000, 20 * 3600_000)
    happened = received - delay
    skew = rng.randrange(-3000, 3000) if kind != "server" else 0
    shape = shape_names[_pick(shape_cum, shape_cum[-1], rng)]
    integrations, consented, _ = INTEGRATIONS[_pick(integ_cum, integ_cum[-1], rng)]
    event = {
        "channel": "client" if kind == "web" else "mobile" if kind == "ios" else "server",
        "integrations": dict(integrations),
        "originalTimestamp": iso(happened + skew),
        "receivedAt": iso(received),
        "sentAt": iso(received - delay + skew + rng.randrange(5, 900)),
        "timestamp": iso(happened, shape),
        "type": call,
        "version": 2,
        "_consented": consented,
    }
    if rng.random() >= 0.005:
        event["messageId"] = _message_id(rng, kind)
    if visitor >= 0:
        event["anonymousId"] = users.visitor_anon[visitor]
    elif kind == "web" and rng.random() < PRE_LOGIN_RATE:
        event["anonymousId"] = users.anon_id[user]   # before login: stitched to the user
    else:
        event["userId"] = users.user_id[user]
        if kind != "server":
            event["anonymousId"] = users.anon_id[user]
    page_path, page_title = PAGES[rng.randrange(len(PAGES))]
    if kind == "web":
        source = user if user >= 0 else visitor % max(1, len(users.ip))
        event["context"] = {
            "ip": users.ip[source], "library": _LIB_JS, "locale": users.locale[source],
            "page": {"path": page_path, "referrer": "" if rng.random() < 0.7 else
                     "https://www.google.com/", "search": "", "title": f"{page_title} | Example",
                     "url": f"https://app.example.com{page_path}"},
            "timezone": users.tz[source], "userAgent": users.ua[source]}
    elif kind == "ios":
        event["context"] = {
            "app": _IOS_APP,
            "device": {"id": users.anon_id[user], "manufacturer": "Apple",
                       "model": IOS_MODELS[user % len(IOS_MODELS)], "type": "ios"},
            "ip": users.ip[user], "library": _LIB_IOS, "locale": users.locale[user],
            "network": _IOS_NET, "os": _IOS_OS, "screen": _IOS_SCREEN, "timezone": users.tz[user]}
    else:
        event["context"] = {"ip": users.ip[user], "library": _LIB_PY}
    account = users.account_at(user, happened) if user >= 0 else -1
    is_whitelisted = False
    if call == "track":
        name = names[_pick(name_cum, name_total, rng)]
        is_whitelisted = whitelisted is not None and name in whitelisted
        if is_whitelisted and rng.random() < 0.06:
            # other spellings Segment's setting also matches
            name = rng.choice((name.lower().replace(" ", "_"), name.upper().replace(" ", "-"),
                               name.lower().replace(" ", ".")))
        elif is_whitelisted and rng.random() < 0.01:
            name = name.replace(" ", "")  # "OrderCompleted" does not match "Order Completed"
            is_whitelisted = False
        event["event"] = name
        properties = _properties(rng, name)
        if user >= 0 and users.history[user] and rng.random() < 0.05:
            properties["accountId"] = users.account_ids[account]   # the event's own account
        event["properties"] = properties
    elif call == "identify":
        if user >= 0:
            first, last = users.first[user], users.last[user]
            traits = {"email": f"{first.lower()}.{last.lower()}{user}@example.com",
                      "firstName": first, "lastName": last, "name": f"{first} {last}",
                      "plan": users.account_plan[account],
                      "createdAt": iso(START_MS - (user % 700) * DAY_MS, "z"),
                      "company": {"name": users.account_names[account]}}
            if users.history[user] and rng.random() < 0.7:
                traits["accountId"] = users.account_ids[account]
        else:
            traits = {"lastSeenPage": page_path, "utm_source": rng.choice(("google", "newsletter", "linkedin"))}
        event["traits"] = traits
    elif call == "group":
        event["groupId"] = users.account_ids[account]
        event["traits"] = {"name": users.account_names[account], "plan": users.account_plan[account],
                           "employees": 10 + (account * 37) % 5000,
                           "industry": INDUSTRIES[account % len(INDUSTRIES)],
                           "website": f"https://acct{account}.example.com"}
    elif call == "page":
        event["name"] = page_title
        event["properties"] = {"path": page_path, "referrer": "", "search": "",
                               "title": f"{page_title} | Example",
                               "url": f"https://app.example.com{page_path}"}
    else:
        screen_name = SCREENS[rng.randrange(len(SCREENS))]
        event["name"] = screen_name
        event["properties"] = {"name": screen_name}
    return event, is_whitelisted


def _properties(rng: random.Random, name: str) -> dict:
    lowered = name.lower()
    if "order" in lowered or "checkout" in lowered:
        items = 1 if rng.random() < 0.97 else rng.randrange(8, 20)   # a few big orders
        products = []
        for item in range(items):
            plan = rng.choice(PLANS)
            products.append({"name": f"{plan.title()} seat", "price": rng.choice((29.0, 49.0, 99.0, 249.0)),
                             "productId": f"prod_{plan}_seat_{item}", "quantity": rng.randint(1, 25)})
        return {"currency": "USD", "orderId": f"ord_{rng.randrange(10**6, 10**7)}", "products": products,
                "revenue": round(sum(p["price"] * p["quantity"] for p in products), 2)}
    if "feature" in lowered:
        return {"feature": rng.choice(FEATURES), "plan": rng.choice(PLANS), "durationMs": rng.randrange(50, 90000)}
    if "report" in lowered or "export" in lowered:
        return {"format": rng.choice(("csv", "pdf", "xlsx")), "reportId": f"rep_{rng.randrange(1000, 9999)}",
                "rows": rng.randrange(10, 50000)}
    if "signed" in lowered or "trial" in lowered:
        return {"method": rng.choice(("email", "google", "sso")), "plan": rng.choice(PLANS), "trialDays": 14}
    if "dashboard" in lowered:
        return {"dashboardId": f"dsh_{rng.randrange(100, 999)}",
                "dashboardName": rng.choice(("Pipeline", "Renewals", "Health scores", "Usage"))}
    if "search" in lowered:
        return {"query": rng.choice(("renewal", "q4 churn", "health score", "nps", "überblick")),
                "results": rng.randrange(0, 80)}
    if "plan" in lowered:
        return {"fromPlan": rng.choice(PLANS), "mrr": rng.choice((490, 990, 2490)), "toPlan": rng.choice(PLANS)}
    if "nps" in lowered or "survey" in lowered:
        return {"score": rng.randrange(0, 11), "comment": rng.choice(("", "Great tool", "Too slow"))}
    if "logged" in lowered:
        return {"method": rng.choice(("password", "google", "sso"))}
    return {"section": rng.choice(("profile", "notifications", "security", "team")),
            "value": rng.randrange(1000)}


def _malform(rng: random.Random, event: dict) -> bytes:
    """A line that is certainly not a valid event (each kind fails a different check)."""
    event.pop("_consented", None)
    kind = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
    if kind == "no_type":
        del event["type"]
    elif kind == "empty_event":
        event["type"], event["event"] = "track", ""
    elif kind == "no_ids":
        event.pop("userId", None)
        event.pop("anonymousId", None)
    elif kind == "group_no_id":
        event["type"] = "group"
        event.pop("groupId", None)
    elif kind == "properties_list":
        event["properties"] = ["not", "an", "object"]
    elif kind == "traits_string":
        event["traits"] = "plan=enterprise"
    elif kind == "numeric_type":
        event["type"] = 7
    line = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    if kind == "truncated":
        return line[:rng.randrange(10, len(line) - 1)]
    if kind == "latin1":
        return line[:12] + b"\xe9" + line[12:]          # a Latin-1 byte: not UTF-8
    if kind == "nan":
        return line.replace(b'"version":2', b'"version":NaN', 1)
    if kind == "array":
        return b"[" + line + b"]"
    return line


def _write_mapping(path: Path, users: _Users, rng: random.Random):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("userId,accountId\n")
        for user, target in enumerate(users.mapped_to):
            if target >= 0:
                handle.write(f"{users.user_id[user]},{users.account_ids[target]}\n")
        for visitor, target in enumerate(users.visitor_mapped):
            if target >= 0:
                handle.write(f"{users.visitor_anon[visitor]},{users.account_ids[target]}\n")
        for number in range(max(5, len(users.user_id) // 200)):   # users absent from the export
            handle.write(f"usr_gone_{number:06d},{users.account_ids[rng.randrange(len(users.account_ids))]}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True, help="lines to write (N)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--files", type=int, default=None,
                        help=f"number of files (default: N/{EVENTS_PER_FILE}, at least 4)")
    parser.add_argument("--plain", action="store_true", help="write .jsonl instead of .gz")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    started = time.monotonic()
    manifest = generate(args.events, args.out, files=args.files, plain=args.plain, seed=args.seed)
    json.dump(manifest, sys.stdout, indent=2, sort_keys=True)
    print()
    print(f"generated {args.events} lines in {time.monotonic() - started:.1f} s; "
          f"job flags: --input '{manifest['input']}' --track_whitelist \"{manifest['track_whitelist']}\" "
          f"--account_mapping {manifest['account_mapping']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
