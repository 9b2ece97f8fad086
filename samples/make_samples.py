#!/usr/bin/env python3
"""Generate the bundled Segment export sample and its answer key.

    python samples/make_samples.py

(Re)writes, deterministically (fixed seed, no wall clock, gzip mtime 0):

    samples/segment-logs/<source-id>/<day-epoch-ms>/<file>.gz   the raw archive
    samples/account_mapping.csv                                 userId,accountId
    samples/expected.jsonl                                      every message that must reach Gainsight
    samples/expected_pages.jsonl                                every page, with the account it gets where sent (PX)
    samples/expected_summary.json                               the counters the run must report
    samples/README.md

The answer key is NOT computed by running pipeline rules over the generated lines.
Each scenario below is a small function that writes its events and, for each one,
states where it must end up (`x.sent(event, account)`, `x.filtered(event)`, ...),
following the scenario's intent.  The self-check at the end only verifies that the
bookkeeping is consistent (counts add up, ids unique, files re-read correctly).

Demo flags this export is meant for:
    --input 'samples/segment-logs/*/*/*.gz'
    --track_whitelist "Order Completed,Signed Up,Feature Used,Report Exported"
    --account_mapping samples/account_mapping.csv
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import json
import random
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_ID = "Xk3pQ9mZ2a"
SEED = 20241101
RNG = random.Random(SEED)
UTC = timezone.utc

WHITELIST = ("Order Completed", "Signed Up", "Feature Used", "Report Exported")
TRACK_WHITELIST_FLAG = ",".join(WHITELIST)
MAX_LINE_BYTES = 32768

DAY1 = datetime(2024, 11, 1, tzinfo=UTC)  # 1730419200000
DAY2 = datetime(2024, 11, 2, tzinfo=UTC)  # 1730505600000


# --------------------------------------------------------------------------- archive files

@dataclass(frozen=True)
class ArchiveFile:
    """One gz object of Segment's raw archive; holds the lines received in [start, end) hours."""
    day: datetime
    start_hour: int
    end_hour: int
    name: str

    @property
    def relpath(self) -> str:
        return f"segment-logs/{SOURCE_ID}/{int(self.day.timestamp() * 1000)}/{self.name}"


# File names are "<epoch seconds shortly after the window opened>-<6 hex>.gz".
FILES = (
    ArchiveFile(DAY1, 0, 8, "1730420137-0a1b2c.gz"),
    ArchiveFile(DAY1, 8, 16, "1730448954-5e93d1.gz"),
    ArchiveFile(DAY1, 16, 24, "1730477728-b27f40.gz"),
    ArchiveFile(DAY2, 0, 12, "1730506211-c81e07.gz"),
    ArchiveFile(DAY2, 12, 24, "1730549287-4d6fa9.gz"),
)
D1_NIGHT, D1_DAY, D1_EVENING, D2_MORNING, D2_AFTERNOON = FILES


def file_for(at: datetime) -> ArchiveFile:
    at = at.astimezone(UTC)
    for f in FILES:
        if f.day.date() == at.date() and f.start_hour <= at.hour < f.end_hour:
            return f
    raise ValueError(f"no archive file covers {at.isoformat()}")


# --------------------------------------------------------------------------- ids and times

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-char Salesforce id into the 18-char form."""
    out = ""
    for i in range(3):
        chunk = id15[i * 5:(i + 1) * 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        out += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return out


def salesforce_account_id(name: str) -> str:
    id15 = "0015g00000" + "".join(BASE62[b % 62] for b in _digest("account", name)[:5])
    return id15 + salesforce_checksum(id15)


ACCOUNT_NAMES = (
    # steady customers
    "Acme Corp", "Globex", "Initech", "Umbrella", "Hooli",
    # scenario accounts (each used by one scenario so the answer key is easy to read)
    "Stark Industries", "Tyrell", "Soylent", "Wonka Industries", "Cyberdyne", "Pied Piper",
    "Massive Dynamic", "Vandelay Industries", "Nakatomi", "Black Mesa", "Aperture Science",
    "Wayne Enterprises", "Oscorp", "Gringotts", "Monarch Solutions", "Dunder Mifflin",
    "Prestige Worldwide", "Sterling Cooper", "Bluth Company", "Los Pollos Hermanos",
    "Gekko & Co",
    # stitching and context.groupId scenarios
    "Duff Beer", "Kwik-E-Mart", "Globo Gym", "Octan", "Virtucon", "Ollivanders", "Bluebook Inc",
    "Sabre Corp", "Initrode",
)
ACC = {name: salesforce_account_id(name) for name in ACCOUNT_NAMES}


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=_digest("uuid", *parts)[:16], version=4))


def new_message_id(kind: str) -> str:
    bits = RNG.getrandbits(128)
    if kind == "web":
        return f"ajs-next-{bits:032x}"  # analytics.js (next) style
    if kind == "personas":
        bits = (bits << 48) | RNG.getrandbits(48)  # 176 bits: enough for 27 base62 digits
        out = ""
        for _ in range(27):
            bits, r = divmod(bits, 62)
            out += BASE62[r]
        return "personas_" + out
    u = str(uuid.UUID(int=bits, version=4))
    return u.upper() if kind == "ios" else u


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)  # Python 3.11 accepts "Z"


def iso_ms(dt: datetime) -> str:
    """Segment's own format: UTC, milliseconds, Z."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def stamp(dt: datetime, shape: str | None = None) -> str:
    """`timestamp` in one of the ISO-8601 shapes the pipeline must accept."""
    shape = shape or RNG.choices(("ms", "z", "plus2", "zero_offset", "minus5"), (55, 20, 10, 10, 5))[0]
    dt = dt.astimezone(UTC)
    if shape == "ms":
        return iso_ms(dt)
    if shape == "z":
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape == "zero_offset":
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"
    hours = {"plus2": 2, "minus5": -5}[shape]
    local = dt.astimezone(timezone(timedelta(hours=hours)))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{hours:+03d}:00"


def later(dt: datetime, lo: int = 20, hi: int = 540) -> datetime:
    return dt + timedelta(seconds=RNG.randint(lo, hi), milliseconds=RNG.randint(0, 999))


# --------------------------------------------------------------------------- people

USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
)
TIMEZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo", "America/Los_Angeles")


@dataclass(frozen=True)
class Person:
    """Who sends a message and through which library.

    kind: "web" (analytics.js), "ios" (analytics-ios), "server" (analytics-python),
          "personas" (Segment Personas/Engage computed traits).
    """
    user_id: str | None
    anonymous_id: str | None
    kind: str = "web"
    name: str = ""
    email: str = ""

    def via(self, kind: str) -> "Person":
        anon = self.anonymous_id
        if kind == "ios":
            anon = stable_uuid("ios", self.user_id or "", self.anonymous_id or "").upper()
        elif kind in ("server", "personas"):
            anon = None
        return dataclasses.replace(self, kind=kind, anonymous_id=anon)

    def _pick(self, options):
        return options[_digest("pick", self.user_id or "", self.anonymous_id or "")[0] % len(options)]

    @property
    def ip(self) -> str:
        block = self._pick(("203.0.113", "198.51.100", "192.0.2"))
        return f"{block}.{_digest('ip', self.user_id or '', self.anonymous_id or '')[1] % 250 + 2}"


def web_user(user_id: str, name: str, email: str) -> Person:
    return Person(user_id, stable_uuid("anon", user_id), "web", name, email)


def visitor(label: str) -> Person:
    """An anonymous-only browser (no userId)."""
    return Person(None, stable_uuid("visitor", label), "web")


# --------------------------------------------------------------------------- messages

PAGES = {
    "Order Completed": ("/billing/checkout", "Checkout"),
    "Signed Up": ("/signup", "Create your account"),
    "Trial Started": ("/signup/trial", "Start your trial"),
    "Report Exported": ("/reports", "Reports"),
    "Dashboard Viewed": ("/dashboards", "Dashboards"),
    "Invite Sent": ("/settings/team", "Team"),
    "Settings Updated": ("/settings", "Settings"),
    "Plan Upgraded": ("/billing/plans", "Plans"),
    "Subscription Cancelled": ("/billing", "Billing"),
    "Integration Connected": ("/settings/integrations", "Integrations"),
}
PLANS = ("starter", "growth", "business", "enterprise")
FEATURES = ("pipeline-builder", "bulk-edit", "ai-summary", "custom-fields", "api-tokens",
            "scheduled-reports", "audit-log", "sso-setup")


def context(p: Person, path: str = "/app", title: str = "Home") -> dict:
    if p.kind == "web":
        return {
            "ip": p.ip,
            "library": {"name": "analytics.js", "version": "next-1.72.1"},
            "locale": p._pick(("en-US", "en-GB", "de-DE", "fr-FR")),
            "page": {"path": path, "referrer": "", "search": "", "title": f"{title} | Example",
                     "url": f"https://app.example.com{path}"},
            "timezone": p._pick(TIMEZONES),
            "userAgent": p._pick(USER_AGENTS),
        }
    if p.kind == "ios":
        return {
            "app": {"build": "5312", "name": "Example", "namespace": "com.example.app", "version": "5.3.1"},
            "device": {"id": stable_uuid("device", p.user_id or "").upper(), "manufacturer": "Apple",
                       "model": "iPhone15,2", "type": "ios"},
            "ip": p.ip,
            "library": {"name": "analytics-ios", "version": "4.1.8"},
            "locale": "en-US",
            "network": {"carrier": "T-Mobile", "cellular": False, "wifi": True},
            "os": {"name": "iOS", "version": "17.6.1"},
            "screen": {"height": 852, "width": 393},
            "timezone": "Asia/Tokyo",
        }
    if p.kind == "server":
        return {"library": {"name": "analytics-python", "version": "2.3.3"}}
    if p.kind == "personas":
        return {"library": {"name": "unknown", "version": "unknown"}}
    raise ValueError(p.kind)


AUTO = object()  # "generate a realistic value"


def message(p: Person, type_: str, ts: str, *, integrations: dict | None = None,
            message_id=AUTO, delay_ms: int | None = None, path: str = "/app", title: str = "Home") -> dict:
    """A Segment archive line.  receivedAt - (sentAt - originalTimestamp) == timestamp."""
    t = parse_ts(ts)
    delay = timedelta(milliseconds=RNG.randint(60, 2400) if delay_ms is None else delay_ms)
    skew = timedelta(milliseconds=RNG.randint(-3000, 3000)) if p.kind in ("web", "ios") else timedelta(0)
    client_time = t + skew
    ev = {
        "channel": {"web": "client", "ios": "mobile"}.get(p.kind, "server"),
        "context": context(p, path, title),
        "integrations": {} if integrations is None else integrations,
        "originalTimestamp": iso_ms(client_time),
        "receivedAt": iso_ms(t + delay),
        "sentAt": iso_ms(client_time + delay),
        "timestamp": ts,
        "type": type_,
        "version": 2,
    }
    if message_id is AUTO:
        ev["messageId"] = new_message_id(p.kind)
    elif message_id is not None:
        ev["messageId"] = message_id
    if p.anonymous_id is not None:
        ev["anonymousId"] = p.anonymous_id
    if p.user_id is not None:
        ev["userId"] = p.user_id
    return ev


def properties_for(name: str) -> dict:
    r = RNG
    lowered = name.lower()
    if "order" in lowered:
        qty, price = r.randint(1, 25), r.choice((29.0, 49.0, 99.0, 249.0))
        plan = r.choice(PLANS)
        return {"currency": "USD", "orderId": f"ord_{r.randint(100000, 999999)}",
                "products": [{"name": f"{plan.title()} seat", "price": price,
                              "productId": f"prod_{plan}_seat", "quantity": qty}],
                "revenue": round(qty * price, 2)}
    if "signed" in lowered or "trial" in lowered:
        return {"method": r.choice(("email", "google", "sso")), "plan": r.choice(PLANS), "trialDays": 14}
    if "feature" in lowered:
        return {"feature": r.choice(FEATURES), "plan": r.choice(PLANS)}
    if "report" in lowered:
        return {"format": r.choice(("csv", "pdf", "xlsx")), "reportId": f"rep_{r.randint(1000, 9999)}",
                "rows": r.randint(10, 50000)}
    if "dashboard" in lowered:
        return {"dashboardId": f"dsh_{r.randint(100, 999)}",
                "dashboardName": r.choice(("Pipeline", "Renewals", "Health scores", "Usage"))}
    if "invite" in lowered:
        return {"inviteeEmail": f"new.user{r.randint(10, 99)}@example.com", "role": r.choice(("member", "admin"))}
    if "project" in lowered:
        return {"projectId": f"prj_{r.randint(1000, 9999)}", "template": r.choice(("blank", "kanban", "okr"))}
    if "comment" in lowered:
        return {"length": r.randint(5, 600), "projectId": f"prj_{r.randint(1000, 9999)}"}
    if "file" in lowered:
        return {"fileType": r.choice(("pdf", "png", "csv")), "sizeBytes": r.randint(1000, 9_000_000)}
    if "integration" in lowered:
        return {"integration": r.choice(("Slack", "Salesforce", "Jira", "HubSpot"))}
    if "plan" in lowered:
        return {"fromPlan": "growth", "mrr": r.choice((490, 990, 2490)), "toPlan": "business"}
    if "search" in lowered:
        return {"query": r.choice(("renewal", "q4 churn", "health score", "nps")), "results": r.randint(0, 80)}
    if "settings" in lowered:
        return {"section": r.choice(("profile", "notifications", "security"))}
    if "cancel" in lowered:
        return {"reason": r.choice(("too expensive", "missing features", "switched tools"))}
    if "logged" in lowered:
        return {"method": r.choice(("password", "google", "sso"))}
    return {}


def track(p: Person, name: str, ts: str, props=AUTO, **kw) -> dict:
    path, title = PAGES.get(name, ("/app", "Home"))
    ev = message(p, "track", ts, path=path, title=title, **kw)
    ev["event"] = name
    ev["properties"] = properties_for(name) if props is AUTO else props
    return ev


def person_traits(p: Person, **extra) -> dict:
    first, _, last = p.name.partition(" ")
    traits = {"email": p.email, "firstName": first, "lastName": last, "name": p.name}
    traits.update(extra)
    return traits


def identify(p: Person, ts: str, traits=AUTO, **kw) -> dict:
    ev = message(p, "identify", ts, **kw)
    ev["traits"] = person_traits(p) if traits is AUTO else traits
    return ev


def group(p: Person, group_id: str, ts: str, traits=AUTO, **kw) -> dict:
    ev = message(p, "group", ts, path="/settings/workspace", title="Workspace", **kw)
    ev["groupId"] = group_id
    if traits is AUTO:
        name = next((n for n, i in ACC.items() if i == group_id), "Workspace")
        traits = {"name": name, "plan": RNG.choice(PLANS),
                  "website": "https://" + name.lower().replace(" ", "").replace("&", "") + ".example"}
    ev["traits"] = traits
    return ev


def page(p: Person, ts: str, name: str = "Dashboards", path: str = "/dashboards", **kw) -> dict:
    ev = message(p, "page", ts, path=path, title=name, **kw)
    ev["name"] = name
    ev["properties"] = {"path": path, "referrer": "", "search": "", "title": f"{name} | Example",
                        "url": f"https://app.example.com{path}"}
    return ev


def screen(p: Person, ts: str, name: str = "Home", **kw) -> dict:
    ev = message(p, "screen", ts, **kw)
    ev["name"] = name
    ev["properties"] = {"name": name}
    return ev


def personas_identify(p: Person, audience: str, member: bool, ts: str) -> dict:
    """Personas audience sync: snake_case audience trait with true/false, sent only to Gainsight."""
    pp = p.via("personas")
    ev = message(pp, "identify", ts, integrations={"All": False, "Gainsight": True})
    ev["context"]["personas"] = {
        "computation_class": "audience",
        "computation_id": "aud_" + _digest("aud", audience).hex()[:24],
        "computation_key": audience,
        "namespace": "spa_2Lq8ZkP3vN7xR1tY",
        "space_id": "spa_2Lq8ZkP3vN7xR1tY",
    }
    ev["traits"] = {audience: member}
    return ev


def encode(ev) -> bytes:
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=True).encode("utf-8")


def received_at(ev: dict) -> datetime:
    return parse_ts(ev["receivedAt"])


# --------------------------------------------------------------------------- the ledger

@dataclass(eq=False)
class Line:
    data: bytes
    file: ArchiveFile
    at: datetime          # position inside the file (the archive is roughly in receivedAt order)
    seq: int
    bucket: str = ""      # where the line must end up (see Export.BUCKETS)
    copies: list = field(default_factory=list)


class Export:
    """Collects archive lines and, for each, the bucket it must end in."""

    BUCKETS = ("invalid", "duplicates", "skipped_by_integrations", "unsupported", "filtered", "sent")

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.expected: list[tuple[Line, dict]] = []
        self.pages: list[tuple[Line, dict]] = []   # pages: the account each gets where sent (PX)
        self.mapping: dict[str, str] = {}
        self.notes: dict[str, int] = Counter()  # sizes of the special lines, for the self-check

    def _place(self, data: bytes, at: datetime, file: ArchiveFile | None, bucket: str = "") -> Line:
        line = Line(data, file or file_for(at), at, len(self.lines), bucket)
        self.lines.append(line)
        return line

    @property
    def buckets(self) -> Counter:
        """How many lines end in each bucket (blank lines are in none)."""
        return Counter(line.bucket for line in self.lines if line.bucket)

    def _event(self, bucket: str, ev: dict, file=None, at=None) -> Line:
        return self._place(encode(ev), at or received_at(ev), file, bucket)

    # one method per bucket --------------------------------------------------
    def sent(self, ev: dict, account: str | None, *, file=None, at=None, stitched=False) -> Line:
        """`stitched`: the account comes through an anonymousId link (summary key stitched)."""
        line = self._event("sent", ev, file, at)
        if stitched:
            self.notes["stitched"] += 1
        self.expected.append((line, {
            "messageId": ev.get("messageId"),
            "type": ev["type"],
            "userId": ev.get("userId"),
            "anonymousId": ev.get("anonymousId"),
            "event": ev.get("event") if ev["type"] == "track" else None,
            "timestamp": ev["timestamp"],
            "accountId": account,
        }))
        return line

    def page(self, ev: dict, account: str | None, **kw) -> Line:
        """A page: unsupported by Gainsight CS; `account` is what it carries where pages are
        sent (Gainsight PX), by the same rules as a track."""
        line = self._event("unsupported", ev, **kw)
        self.pages.append((line, {
            "messageId": ev.get("messageId"), "type": "page", "userId": ev.get("userId"),
            "anonymousId": ev.get("anonymousId"), "name": ev.get("name"),
            "timestamp": ev["timestamp"], "accountId": account}))
        return line

    def filtered(self, ev: dict, **kw) -> Line:
        return self._event("filtered", ev, **kw)

    def unsupported(self, ev: dict, **kw) -> Line:
        return self._event("unsupported", ev, **kw)

    def skipped(self, ev: dict, **kw) -> Line:
        return self._event("skipped_by_integrations", ev, **kw)

    def invalid(self, data, *, at: datetime, file=None) -> Line:
        return self._place(data if isinstance(data, bytes) else encode(data), at, file, "invalid")

    def duplicate(self, original: Line, *, at: datetime, file=None) -> Line:
        """A copy of a sent line is a duplicate; a copy of a skipped one is skipped for the same
        reason (the job deduplicates after its filters)."""
        bucket = "duplicates" if original.bucket == "sent" else original.bucket
        copy = self._place(original.data, at, file, bucket)
        original.copies.append(copy)
        return copy

    def blank(self, text: str, *, at: datetime, file=None) -> None:
        self._place(text.encode(), at, file)

    def map_account(self, key: str, account: str) -> None:
        assert key not in self.mapping
        self.mapping[key] = account


# --------------------------------------------------------------------------- scenarios

@dataclass
class Company:
    name: str
    people: list[Person]


def _staff(company: str, domain: str, names: list[str], ios: str | None = None) -> Company:
    people = []
    for n in names:
        first, last = n.split(" ", 1)
        slug = (first + "_" + last).lower().replace("é", "e").replace(" ", "_")
        p = web_user(f"usr_{slug}", n, f"{first.lower()}.{last.lower()}@{domain}".replace("é", "e"))
        people.append(p.via("ios") if n == ios else p)
    return Company(company, people)


STEADY = [
    _staff("Acme Corp", "acme.example", ["Ana Silva", "Ben Okafor", "Chloé Martin"]),
    _staff("Globex", "globex.example", ["Dev Patel", "Erin Walsh"]),
    _staff("Initech", "initech.example", ["Farah Haddad", "Greg Novak", "Hana Sato"]),
    _staff("Umbrella", "umbrella.example", ["Igor Petrov", "Julia Costa"]),
    _staff("Hooli", "hooli.example", ["Kenji Mori", "Lena Fischer", "Mateo Ruiz"], ios="Kenji Mori"),
]
ANA, BEN, CHLOE = STEADY[0].people
DEV, ERIN = STEADY[1].people
FARAH, GREG, HANA = STEADY[2].people
IGOR, JULIA = STEADY[3].people
KENJI, LENA, MATEO = STEADY[4].people


def account_of(p: Person) -> str:
    for c in STEADY:
        if any(q.user_id == p.user_id for q in c.people):
            return ACC[c.name]
    raise KeyError(p.user_id)


# Background track mix (canonical names): whitelisted ones are sent, the rest filtered.
BACKGROUND_TRACKS = (
    ("Feature Used", 24), ("Report Exported", 9), ("Order Completed", 4),
    ("Dashboard Viewed", 16), ("Logged In", 5), ("Search Performed", 6), ("Project Created", 4),
    ("Comment Added", 6), ("File Uploaded", 4), ("Invite Sent", 3), ("Settings Updated", 3),
    ("Integration Connected", 2), ("Plan Upgraded", 1),
)
SCREENS = ("Home", "Accounts", "Timeline", "Tasks")
PAGE_NAMES = (("Dashboards", "/dashboards"), ("Accounts", "/accounts"), ("Reports", "/reports"),
              ("Settings", "/settings"))


def _activity(x: Export, p: Person, account: str | None, t: datetime, n: int) -> datetime:
    """n background events: ~13 % page/screen (unsupported), else tracks (sent with `account`
    when the name is one of the four whitelisted canonical names, otherwise filtered)."""
    names, weights = zip(*BACKGROUND_TRACKS)
    for _ in range(n):
        t = later(t)
        if RNG.random() < 0.13:
            if p.kind == "ios":
                x.unsupported(screen(p, stamp(t), RNG.choice(SCREENS)))
            else:
                name, path = RNG.choice(PAGE_NAMES)
                x.page(page(p, stamp(t), name, path), account)
            continue
        name = RNG.choices(names, weights)[0]
        ev = track(p, name, stamp(t))
        if name in WHITELIST:
            x.sent(ev, account)
        else:
            x.filtered(ev)
    return t


def steady_customers(x: Export) -> None:
    """Background traffic: 13 users at 5 companies (Acme Corp, Globex, Initech, Umbrella,
    Hooli), one of them on the iOS app.  Each user joins their company with a group call on
    day 1 (identify traits repeat the accountId for every other user; day-2 sessions sometimes
    identify again).  The account never changes, so every sent event of theirs, including the
    identify/group calls themselves and tracks stamped before their first group call, carries
    their company's account.  Pages/screens are unsupported; non-whitelisted tracks are filtered."""
    for company in STEADY:
        acct = ACC[company.name]
        for i, p in enumerate(company.people):
            for day in (DAY1, DAY2):
                t = day + timedelta(minutes=RNG.randint(30, 21 * 60 + 30), seconds=RNG.randint(0, 59))
                if day is DAY1 or RNG.random() < 0.5:
                    traits = person_traits(p, plan=RNG.choice(PLANS), title=RNG.choice(
                        ("CSM", "Admin", "Analyst", "VP Customer Success")))
                    if i % 2 == 0:
                        traits["accountId"] = acct
                    x.sent(identify(p, stamp(t), traits), acct)
                    t = later(t, 1, 10)
                if day is DAY1:
                    x.sent(group(p, acct, stamp(t)), acct)
                _activity(x, p, acct, t, RNG.randint(6, 8))


def mapped_only_users(x: Export) -> None:
    """usr_bruce_wayne and usr_charlie_bucket never identify or group; account_mapping.csv maps
    them to Wayne Enterprises and Oscorp, so their whitelisted tracks carry those accounts."""
    for p, acct in ((web_user("usr_bruce_wayne", "Bruce Wayne", "bruce@wayne.example"), ACC["Wayne Enterprises"]),
                    (web_user("usr_charlie_bucket", "Charlie Bucket", "charlie@oscorp.example"), ACC["Oscorp"])):
        x.map_account(p.user_id, acct)
        day = DAY1 if p.user_id == "usr_bruce_wayne" else DAY2
        t = day + timedelta(hours=RNG.randint(9, 15), minutes=RNG.randint(0, 59))
        x.sent(track(p, "Feature Used", stamp(t)), acct)
        _activity(x, p, acct, t, 7)
    # a mapping row for a user who does not appear in this export (a CRM export has those)
    x.map_account("usr_selina_kyle", ACC["Wayne Enterprises"])


def unmapped_users(x: Export) -> None:
    """Users with no account anywhere (no own account, no identify/group account, not in the
    mapping): usr_freelancer_zoe (identify without accountId + tracks) and an anonymous-only
    visitor.  Their messages are still sent, with accountId null (counted in `unmapped`)."""
    zoe = web_user("usr_freelancer_zoe", "Zoë Adler", "zoe@freelance.example")
    x.sent(identify(zoe, "2024-11-01T13:02:11.418Z", person_traits(zoe, plan="starter")), None)
    t = _activity(x, zoe, None, parse_ts("2024-11-01T13:02:15.000Z"), 5)
    x.sent(track(zoe, "Report Exported", stamp(later(t))), None)
    x.sent(track(zoe, "Feature Used", "2024-11-02T08:44:09.007Z"), None)

    v = visitor("pricing-page-lurker")
    x.page(page(v, "2024-11-02T14:10:00.250Z", "Pricing", "/pricing"), None)
    x.sent(track(v, "Feature Used", "2024-11-02T14:11:30Z", {"feature": "roi-calculator", "plan": "none"}), None)
    x.filtered(track(v, "Dashboard Viewed", "2024-11-02T14:12:02.100Z"))


def account_switcher(x: Export) -> None:
    """usr_switcher's workspace moves from Stark Industries (group on day 1) to Tyrell (group on
    day 2, 11:00Z).  Tracks between the two group calls carry Stark, tracks after the second carry
    Tyrell.  An iOS track stamped day 1 21:40Z but received (offline queue) on day 2 after the switch
    is stored in the day-2 folder and still carries Stark: history is by event time, not arrival."""
    u = web_user("usr_switcher", "Sam Reyes", "sam.reyes@stark.example")
    a, b = ACC["Stark Industries"], ACC["Tyrell"]
    x.sent(identify(u, "2024-11-01T09:11:58.020Z"), a)          # no own account: history → Stark
    x.sent(group(u, a, "2024-11-01T09:12:00.000Z"), a)
    x.sent(track(u, "Feature Used", "2024-11-01T09:30:41.250Z"), a)
    x.filtered(track(u, "Dashboard Viewed", "2024-11-01T09:31:05Z"))
    x.sent(track(u, "Report Exported", "2024-11-01T17:05:00Z"), a)
    x.sent(track(u.via("ios"), "Order Completed", "2024-11-01T21:40:00Z",
                 delay_ms=(13 * 3600 + 40 * 60) * 1000 + 512), a)   # received 2024-11-02T11:20Z
    x.sent(track(u, "Feature Used", "2024-11-02T10:59:59.999Z"), a)  # 1 ms before the switch
    x.sent(group(u, b, "2024-11-02T11:00:00Z"), b)
    x.sent(track(u, "Feature Used", "2024-11-02T11:00:00.001Z"), b)
    x.sent(identify(u, "2024-11-02T11:01:10Z"), b)
    x.sent(track(u, "Report Exported", "2024-11-02T15:45:30.300+00:00"), b)


def track_before_first_identify(x: Export) -> None:
    """usr_early_bird signs up (track) two seconds before the first identify (traits.accountId =
    Soylent) and later joins Wonka Industries by group.  The early track takes the user's FIRST
    account call (Soylent), not the latest one (Wonka)."""
    u = web_user("usr_early_bird", "Priya Nair", "priya@soylent.example")
    s, w = ACC["Soylent"], ACC["Wonka Industries"]
    x.sent(track(u, "Signed Up", "2024-11-01T07:58:03.120Z"), s)
    x.filtered(track(u, "Trial Started", "2024-11-01T07:58:04.001Z"))
    x.sent(identify(u, "2024-11-01T07:58:05.000Z", person_traits(u, accountId=s)), s)
    x.sent(track(u, "Feature Used", "2024-11-01T08:30:00Z"), s)
    x.sent(group(u, w, "2024-11-01T15:00:00Z"), w)
    x.sent(track(u, "Feature Used", "2024-11-01T15:20:00Z"), w)


def instants_not_strings(x: Export) -> None:
    """Account history compares instants, not strings.
    usr_traveller: group Cyberdyne at 12:00+02:00 (=10:00Z), group Pied Piper at 11:00Z; a track at
      10:30Z → Cyberdyne (string order would put both groups after it and pick Pied Piper); a track at
      13:30+02:00 (=11:30Z) → Pied Piper (string order would pick Cyberdyne).
    usr_millis: group Massive Dynamic at 09:00Z, group Vandelay at 10:00:00.500Z; a track at
      10:00:00Z is half a second before Vandelay → Massive Dynamic (".500Z" sorts before "Z" as text).
    usr_same_instant: group Nakatomi at 09:00Z, group Black Mesa at 12:00:00+02:00; a track at
      10:00:00.000+00:00 is the same instant as the Black Mesa call → Black Mesa ("at or before")."""
    tr = web_user("usr_traveller", "Luca Bianchi", "luca@cyberdyne.example")
    c, pp = ACC["Cyberdyne"], ACC["Pied Piper"]
    x.sent(group(tr, c, "2024-11-01T12:00:00+02:00"), c)
    x.sent(group(tr, pp, "2024-11-01T11:00:00Z"), pp)
    x.sent(track(tr, "Feature Used", "2024-11-01T10:30:00Z"), c)
    x.sent(track(tr, "Report Exported", "2024-11-01T13:30:00+02:00"), pp)

    mi = web_user("usr_millis", "Mina Park", "mina@massive.example")
    m, v = ACC["Massive Dynamic"], ACC["Vandelay Industries"]
    x.sent(group(mi, m, "2024-11-01T09:00:00Z"), m)
    x.sent(group(mi, v, "2024-11-01T10:00:00.500Z"), v)
    x.sent(track(mi, "Feature Used", "2024-11-01T10:00:00Z"), m)
    x.sent(track(mi, "Feature Used", "2024-11-01T10:00:01Z"), v)

    si = web_user("usr_same_instant", "Omar Farouk", "omar@nakatomi.example")
    n, bm = ACC["Nakatomi"], ACC["Black Mesa"]
    x.sent(group(si, n, "2024-11-01T09:00:00Z"), n)
    x.sent(group(si, bm, "2024-11-01T12:00:00+02:00"), bm)
    x.sent(track(si, "Order Completed", "2024-11-01T10:00:00.000+00:00"), bm)


def own_account_wins(x: Export) -> None:
    """usr_consultant belongs to Gringotts (group), but a track with properties.accountId =
    Monarch Solutions carries Monarch; the next track (no own account) is back to Gringotts because
    a track's own account is not history.  An identify with traits.accountId = Dunder Mifflin carries
    its own account and becomes history for later tracks; a day-2 group to Gringotts carries its
    groupId and is the latest history again."""
    u = web_user("usr_consultant", "Rita Moreno", "rita@gringotts.example")
    g, mo, dm = ACC["Gringotts"], ACC["Monarch Solutions"], ACC["Dunder Mifflin"]
    x.sent(group(u, g, "2024-11-01T09:05:00Z"), g)
    x.sent(track(u, "Report Exported", "2024-11-01T10:00:00.000Z",
                 {"accountId": mo, "format": "pdf", "reportId": "rep_7781", "rows": 120}), mo)
    x.sent(track(u, "Feature Used", "2024-11-01T10:30:00Z"), g)
    x.filtered(track(u, "Search Performed", "2024-11-01T10:31:00Z", {"accountId": mo, "query": "renewals"}))
    x.sent(identify(u, "2024-11-01T14:00:00Z", person_traits(u, accountId=dm)), dm)
    x.sent(track(u, "Feature Used", "2024-11-01T15:00:00.000Z"), dm)
    x.sent(group(u, g, "2024-11-02T09:00:00Z"), g)
    x.sent(track(u, "Order Completed", "2024-11-02T09:30:00Z"), g)


def history_beats_mapping(x: Export) -> None:
    """usr_migrated is mapped to Black Mesa in account_mapping.csv (stale CRM row) but joins
    Aperture Science by group at 13:00Z on day 1.  Identify/group history wins over the mapping,
    also for the track stamped before the group call (first account call)."""
    u = web_user("usr_migrated", "Tom Becker", "tom@aperture.example")
    ap = ACC["Aperture Science"]
    x.map_account(u.user_id, ACC["Black Mesa"])
    x.sent(track(u, "Feature Used", "2024-11-01T11:00:00.000Z"), ap)
    x.sent(group(u, ap, "2024-11-01T13:00:00Z"), ap)
    x.sent(track(u, "Report Exported", "2024-11-01T14:00:00Z"), ap)
    x.sent(track(u, "Feature Used", "2024-11-02T09:15:00.000Z"), ap)


def history_ignores_rejected_calls(x: Export) -> None:
    """Only valid, non-duplicate, non-opted-out identify/group calls are history.
    usr_ghost: valid group Los Pollos Hermanos 09:00Z; an invalid group (traits is a string) to
      Massive Dynamic at 10:00Z → dead letter; a group to Vandelay with integrations
      {"Gainsight": false} at 11:00Z → skipped; the 12:00Z track → Los Pollos Hermanos.
    usr_opted_out: only identify (traits.accountId = Gekko & Co) has {"All": false} → skipped;
      the mapping says Bluth Company, so the tracks carry Bluth Company."""
    u = web_user("usr_ghost", "Nora Quinn", "nora@pollos.example")
    lp = ACC["Los Pollos Hermanos"]
    x.sent(group(u, lp, "2024-11-01T09:00:00Z"), lp)
    bad = group(u, ACC["Massive Dynamic"], "2024-11-01T10:00:00Z", "enterprise")
    x.invalid(bad, at=received_at(bad))
    x.skipped(group(u, ACC["Vandelay Industries"], "2024-11-01T11:00:00Z", integrations={"Gainsight": False}))
    x.sent(track(u, "Feature Used", "2024-11-01T12:00:00Z"), lp)
    x.sent(track(u, "Order Completed", "2024-11-02T12:30:00.000Z"), lp)

    o = web_user("usr_opted_out", "Gus Fring", "gus@bluth.example")
    bl = ACC["Bluth Company"]
    x.map_account(o.user_id, bl)
    x.skipped(identify(o, "2024-11-01T16:00:00Z", person_traits(o, accountId=ACC["Gekko & Co"]),
                       integrations={"All": False}))
    x.sent(track(o, "Feature Used", "2024-11-01T16:05:00Z"), bl)
    x.sent(track(o, "Report Exported", "2024-11-02T10:05:00.000Z"), bl)


def anonymous_visitor_mapped(x: Export) -> None:
    """An anonymous-only visitor whose anonymousId is in account_mapping.csv (Prestige Worldwide,
    e.g. from reverse-IP lookup): their tracks (no userId, and one with an explicit "userId": null)
    carry Prestige Worldwide.  They then sign up as usr_new_signup (userId + same anonymousId):
    usr_new_signup has no history and no mapping row, so the mapping is looked up by anonymousId
    → Prestige Worldwide for the Signed Up track and the identify (no accountId in traits).  The
    anonymous tracks are linked to usr_new_signup, who has no account of its own, so they too go by
    the anonymousId's mapping row (not counted as stitched).  The alias call is unsupported (it
    links the same two ids)."""
    v = visitor("prestige-worldwide-reverse-ip")
    pw = ACC["Prestige Worldwide"]
    x.map_account(v.anonymous_id, pw)
    x.page(page(v, "2024-11-02T09:00:12.004Z", "Pricing", "/pricing"), pw)
    x.sent(track(v, "Feature Used", "2024-11-02T09:02:40.512Z", {"feature": "roi-calculator", "plan": "none"}), pw)
    ev = track(v, "Report Exported", "2024-11-02T09:04:00Z", {"format": "pdf", "reportId": "rep_roi"})
    ev["userId"] = None
    x.sent(ev, pw)
    x.filtered(track(v, "Trial Started", "2024-11-02T09:05:30.000Z"))
    u = Person("usr_new_signup", v.anonymous_id, "web", "Brennan Huff", "brennan@prestige.example")
    x.sent(track(u, "Signed Up", "2024-11-02T09:06:00.250Z"), pw)
    x.sent(identify(u, "2024-11-02T09:06:01Z"), pw)
    al = message(u, "alias", "2024-11-02T09:06:01.500Z")
    al["previousId"] = v.anonymous_id
    x.unsupported(al)


def anonymous_identify_carries_over(x: Export) -> None:
    """An anonymous identify's account counts for the user its anonymousId is linked to.  An
    anonymous identify (traits.accountId = Sterling Cooper, its own account), then an anonymous
    track; then the visitor logs in as usr_login_don (a track with userId + the same anonymousId:
    the link).  The anonymous track belongs to usr_login_don (earliest link), whose history is the
    anonymous identify → Sterling Cooper (stitched); so do usr_login_don's own track and identify
    (stitched: the fact came through the link)."""
    v = visitor("sterling-cooper-demo-request")
    sc = ACC["Sterling Cooper"]
    x.sent(identify(v, "2024-11-01T18:20:00Z", {"accountId": sc, "company": "Sterling Cooper",
                                                "email": "demo-request@sterlingcooper.example"}), sc)
    x.sent(track(v, "Feature Used", "2024-11-01T18:22:00.000Z"), sc, stitched=True)
    u = Person("usr_login_don", v.anonymous_id, "web", "Don Draper", "don@sterlingcooper.example")
    x.sent(track(u, "Feature Used", "2024-11-01T18:30:00Z"), sc, stitched=True)
    x.sent(identify(u, "2024-11-01T18:30:02Z"), sc, stitched=True)


def personas_audiences(x: Export) -> None:
    """Personas (Engage) audience syncs: identify calls with snake_case audience traits set to
    true/false, context.personas present and integrations {"All": false, "Gainsight": true}.
    They are ordinary identifies and are sent: for a steady Acme user → Acme Corp (history), for
    mapped usr_bruce_wayne → Wayne Enterprises (mapping), for usr_freelancer_zoe → null."""
    x.sent(personas_identify(ANA, "power_users", True, "2024-11-01T20:00:03.118Z"), ACC["Acme Corp"])
    x.sent(personas_identify(GREG, "churn_risk_q4", False, "2024-11-02T04:00:01.902Z"), ACC["Initech"])
    x.sent(personas_identify(Person("usr_bruce_wayne", None), "power_users", True, "2024-11-01T20:00:04.377Z"),
           ACC["Wayne Enterprises"])
    x.sent(personas_identify(Person("usr_freelancer_zoe", None), "trial_expiring_7d", True,
                             "2024-11-02T04:00:02.440Z"), None)


def integrations_flags(x: Export) -> None:
    """integrations decides delivery before anything else but validity:
    skipped — {"Gainsight": false}; {"All": false}; {"All": false, "Salesforce": true};
      {"All": true, "Gainsight": false}; {"All": false, "gainsight": true} (names are
      case-sensitive); a page and a non-whitelisted track with {"Gainsight": false} / {"All": false}
      are skipped, not unsupported / filtered.
    sent — {"All": false, "Gainsight": true}; {"gainsight": false} (wrong case, ignored);
      {"Salesforce": false}; {"All": true}; {"Gainsight": {"sendAsCustomEvent": true}} (options
      object, not false).  All senders are steady users, so the account is their company's."""
    x.skipped(track(BEN, "Order Completed", "2024-11-01T11:15:00.000Z", integrations={"Gainsight": False}))
    x.skipped(track(DEV, "Feature Used", "2024-11-01T03:40:00Z", integrations={"All": False}))
    x.skipped(identify(ERIN, "2024-11-02T12:30:00Z", integrations={"All": False, "Salesforce": True}))
    x.skipped(track(FARAH, "Report Exported", "2024-11-02T16:00:00+02:00",
                    integrations={"All": True, "Gainsight": False}))
    x.skipped(track(IGOR, "Feature Used", "2024-11-01T19:00:00.000Z", integrations={"All": False, "gainsight": True}))
    x.skipped(page(LENA, "2024-11-02T07:30:00Z", "Accounts", "/accounts", integrations={"Gainsight": False}))
    x.skipped(track(JULIA, "Dashboard Viewed", "2024-11-01T12:45:00Z", integrations={"All": False}))

    for p, name, ts, flags in (
        (BEN, "Report Exported", "2024-11-01T11:20:00.000Z", {"All": False, "Gainsight": True}),
        (MATEO, "Order Completed", "2024-11-02T13:10:00Z", {"gainsight": False}),
        (HANA, "Feature Used", "2024-11-01T05:10:00.000Z", {"Salesforce": False}),
        (CHLOE, "Feature Used", "2024-11-02T18:02:00Z", {"All": True}),
        (ERIN, "Report Exported", "2024-11-02T12:31:00Z", {"Gainsight": {"sendAsCustomEvent": True}}),
    ):
        x.sent(track(p, name, ts, integrations=flags), account_of(p))
    x.sent(identify(JULIA, "2024-11-01T12:40:00.000Z", integrations={"All": False, "Gainsight": True}),
           account_of(JULIA))


def whitelist_name_variants(x: Export) -> None:
    """Whitelist matching ignores case and treats runs of spaces/underscores/hyphens/dots as one
    separator.  Sent: "order_completed", "order-completed", "ORDER COMPLETED", "Order - Completed",
    "signed.up", "Feature  Used", "feature_-_used", "report__exported".  Filtered (no separator
    between the words, or different words): "orderCompleted", "OrderCompleted", "Order Complete",
    "Signed Up!", "Feature Usage".  Sent with the raw event name, account of the steady sender."""
    t = parse_ts("2024-11-02T13:30:00Z")
    matches = ("order_completed", "order-completed", "ORDER COMPLETED", "Order - Completed",
               "signed.up", "Feature  Used", "feature_-_used", "report__exported")
    misses = ("orderCompleted", "OrderCompleted", "Order Complete", "Signed Up!", "Feature Usage")
    senders = (ANA, DEV, FARAH, IGOR, LENA)
    for i, name in enumerate(matches):
        p = senders[i % len(senders)]
        t = later(t, 60, 900)
        x.sent(track(p, name, stamp(t)), account_of(p))
    for i, name in enumerate(misses):
        p = senders[(i + 2) % len(senders)]
        t = later(t, 60, 900)
        x.filtered(track(p, name, stamp(t)))


def duplicate_deliveries(x: Export) -> None:
    """Duplicates (byte-identical copies; the first copy counts, the others are `duplicates`):
    a browser retry in the same file; an identify replayed into the next day's file; an Order
    Completed delivered three times across three files; a duplicated page (2 unsupported: a copy
    of a skipped event counts under the same reason); a duplicated opted-out track (2 skipped).  Lines without messageId get an id from their
    content: a byte-identical pair from the batch importer is 1 sent (messageId null) + 1 dup, and a
    similar line with another timestamp is a different message and is sent as well."""
    ev = track(CHLOE, "Feature Used", "2024-11-01T10:41:07.331Z")
    first = x.sent(ev, account_of(CHLOE))
    x.duplicate(first, at=first.at + timedelta(seconds=3))

    ev = identify(GREG, "2024-11-01T22:58:00.000Z", person_traits(GREG, accountId=ACC["Initech"]))
    first = x.sent(ev, ACC["Initech"])
    x.duplicate(first, at=parse_ts("2024-11-02T00:05:00Z"), file=D2_MORNING)

    ev = track(MATEO, "Order Completed", "2024-11-01T15:59:58.870Z", delay_ms=400)
    first = x.sent(ev, account_of(MATEO))
    x.duplicate(first, at=parse_ts("2024-11-01T16:00:30Z"), file=D1_EVENING)
    x.duplicate(first, at=parse_ts("2024-11-02T12:00:05Z"), file=D2_AFTERNOON)

    first = x.page(page(ERIN, "2024-11-02T08:12:00.000Z", "Reports", "/reports"), account_of(ERIN))
    x.duplicate(first, at=first.at + timedelta(seconds=1))

    first = x.skipped(track(IGOR, "Report Exported", "2024-11-02T17:20:00Z", integrations={"Gainsight": False}))
    x.duplicate(first, at=parse_ts("2024-11-02T17:25:00Z"))

    importer = ANA.via("server")
    ev = track(importer, "Order Completed", "2024-11-01T14:00:00Z",
               {"orderId": "ord_imported_5501", "revenue": 1188.0, "currency": "USD", "source": "billing-backfill"},
               message_id=None, delay_ms=0)
    first = x.sent(ev, ACC["Acme Corp"])
    x.duplicate(first, at=parse_ts("2024-11-01T14:00:00Z"), file=D1_EVENING)
    ev = track(importer, "Order Completed", "2024-11-01T14:05:00Z",
               {"orderId": "ord_imported_5502", "revenue": 594.0, "currency": "USD", "source": "billing-backfill"},
               message_id=None, delay_ms=0)
    x.sent(ev, ACC["Acme Corp"])


def valid_edge_cases(x: Export) -> None:
    """Lines that look odd but are valid and sent: properties null on a track and traits null on
    an identify (null counts as absent); a messageId of exactly 100 characters; non-ASCII text
    (UTF-8); a 24 KB line (under the 32 KB limit); a Globex user's track carrying the whitelisted
    name with a JSON-escaped non-ASCII property."""
    x.sent(track(DEV, "Feature Used", "2024-11-02T10:10:10Z", None), ACC["Globex"])
    x.sent(identify(HANA, "2024-11-02T10:20:00.000Z", None), ACC["Initech"])
    mid = "backfill-2024-11-02-" + "0123456789abcdef" * 5  # 20 + 80 = 100 characters
    x.sent(track(JULIA, "Order Completed", "2024-11-02T11:11:11.111Z", message_id=mid), ACC["Umbrella"])
    x.sent(identify(CHLOE, "2024-11-02T15:00:00Z",
                    person_traits(CHLOE, city="Zürich", nickname="🦊", team="Équipe Succès")), ACC["Acme Corp"])
    columns = [{"name": f"metric_{i:03d}", "type": "number", "label": f"Health metric {i}"} for i in range(330)]
    x.sent(track(KENJI, "Report Exported", "2024-11-02T02:30:00.000Z",
                 {"columns": columns, "format": "xlsx", "reportId": "rep_wide"}), ACC["Hooli"])
    x.notes["large_valid_seq"] = x.lines[-1].seq


def dead_letters(x: Export) -> None:
    """Invalid lines, dead-lettered (one of each kind, spread over all five files): invalid UTF-8
    (Latin-1 "é"); JSON array, string, number and null; a truncated copy of a delivered line (the
    complete line is still sent); missing `type`; numeric `type`; userId "" and anonymousId null;
    a track with event ""; properties that is a list; identify traits that is a string; a group
    without groupId; a 36 KB line (12 000 "€" — fewer than 32 768 characters, but over 32 768 bytes);
    NaN and Infinity literals; a numeric messageId; a 101-character messageId.  A line whose messageId
    was dead-lettered (NaN) and later arrives valid is sent, not a duplicate."""
    def put(ev: dict, mutate=None) -> None:
        if mutate:
            mutate(ev)
        x.invalid(ev, at=received_at(ev))

    # undecodable bytes
    ev = track(BEN, "Feature Used", "2024-11-01T02:14:00.000Z", {"feature": "Café export", "plan": "growth"})
    x.invalid(encode(ev).replace("Café".encode(), b"Caf\xe9"), at=received_at(ev))
    # JSON that is not an object
    ev = track(DEV, "Feature Used", "2024-11-01T04:20:00Z")
    x.invalid(b"[" + encode(ev) + b"]", at=received_at(ev))
    x.invalid(b'"Order Completed"', at=parse_ts("2024-11-01T09:59:00Z"))
    x.invalid(b"1730448954", at=parse_ts("2024-11-01T17:30:00Z"))
    x.invalid(b"null", at=parse_ts("2024-11-02T06:00:00Z"))
    # truncated: the writer died mid-line; the full line is in the next file and is delivered
    ev = track(FARAH, "Report Exported", "2024-11-01T15:58:31.009Z", delay_ms=700)
    data = encode(ev)
    x.invalid(data[: len(data) * 3 // 5], at=received_at(ev))
    x.sent(ev, ACC["Initech"], file=D1_EVENING, at=parse_ts("2024-11-01T16:00:01Z"))
    # missing / non-string type
    put(track(GREG, "Feature Used", "2024-11-01T08:05:00Z"), lambda e: e.pop("type"))
    put(track(HANA, "Feature Used", "2024-11-01T18:05:00.000Z"), lambda e: e.update(type=1))
    # neither userId nor anonymousId ("" and null count as absent)
    put(track(IGOR, "Order Completed", "2024-11-02T09:40:00Z"), lambda e: e.update(userId="", anonymousId=None))
    # track without a non-empty event
    put(track(JULIA, "", "2024-11-02T10:45:00.000Z", {"feature": "bulk-edit"}))
    # properties / traits present but not objects
    put(track(KENJI, "Feature Used", "2024-11-02T13:00:00Z", ["bulk-edit", "growth"]))
    put(identify(LENA, "2024-11-02T14:30:00.000Z", "vip"))
    # group without groupId
    put(group(MATEO, ACC["Hooli"], "2024-11-02T19:00:00Z"), lambda e: e.pop("groupId"))
    # over 32 KB
    ev = track(ANA, "Report Exported", "2024-11-02T20:00:00Z",
               {"format": "pdf", "notes": "€" * 12000, "reportId": "rep_huge"})
    put(ev)
    x.notes["oversize_seq"] = x.lines[-1].seq
    # NaN / Infinity literals
    ev = track(CHLOE, "Order Completed", "2024-11-01T12:05:00.000Z",
               {"currency": "USD", "orderId": "ord_nan", "revenue": float("nan")})
    put(ev)
    retry = json.loads(json.dumps(ev, allow_nan=True))
    retry["properties"]["revenue"] = 0.0  # same messageId, fixed payload: valid, not a duplicate
    x.sent(retry, ACC["Acme Corp"], at=received_at(ev) + timedelta(minutes=2))
    put(track(ERIN, "Feature Used", "2024-11-02T16:30:00Z",
              {"durationMs": float("inf"), "feature": "ai-summary"}))
    # messageId not a string / too long
    put(track(DEV, "Feature Used", "2024-11-01T21:00:00Z"), lambda e: e.update(messageId=1730505600123))
    put(track(GREG, "Feature Used", "2024-11-02T11:30:00Z", message_id="x" * 101))


def unsupported_types(x: Export) -> None:
    """Types Gainsight does not receive are counted as unsupported: a "custom" type line and a
    page carrying only a userId (server-side).  (Pages, screens and the alias elsewhere too.)"""
    ev = message(LENA, "custom", "2024-11-01T16:45:00Z")
    ev["event"] = "Feature Used"
    ev["properties"] = {"feature": "bulk-edit"}
    x.unsupported(ev)
    x.page(page(MATEO.via("server"), "2024-11-02T03:15:00Z", "Docs", "/docs/api"), ACC["Hooli"])


def _with_context_group(ev: dict, account: str) -> dict:
    ev["context"]["groupId"] = account
    return ev


def context_group_id(x: Export) -> None:
    """context.groupId is the event's own account (Segment Spec: "Group / Account ID") when the
    event names none otherwise.  usr_ctx_kim: an identify with only context.groupId = Sabre →
    Sabre, and it is history; a track with only context.groupId = Bluebook → Bluebook; a track with
    properties.accountId = Initrode and context.groupId = Bluebook → Initrode (properties first); a
    track with neither → Sabre (history); a page with context.groupId = Bluebook is unsupported here
    and would carry Bluebook where pages are sent (PX); an identify with traits.accountId =
    Initrode and context.groupId = Bluebook → Initrode (traits first); a group to Sabre carrying
    context.groupId = Bluebook → Sabre (a group's account is its groupId); a later page without
    one would carry Sabre (history)."""
    u = web_user("usr_ctx_kim", "Kim Chen", "kim@bluebook.example")
    bb, sab, itr = ACC["Bluebook Inc"], ACC["Sabre Corp"], ACC["Initrode"]
    x.sent(_with_context_group(identify(u, "2024-11-02T08:00:00.000Z"), sab), sab)
    x.sent(_with_context_group(track(u, "Feature Used", "2024-11-02T08:05:00Z"), bb), bb)
    x.sent(_with_context_group(track(u, "Report Exported", "2024-11-02T08:06:00Z",
                                     {"accountId": itr, "format": "csv", "reportId": "rep_ctx"}), bb), itr)
    x.sent(track(u, "Feature Used", "2024-11-02T08:07:00+00:00"), sab)
    x.page(_with_context_group(page(u, "2024-11-02T08:08:00.000Z", "Accounts", "/accounts"), bb), bb)
    x.sent(_with_context_group(identify(u, "2024-11-02T08:09:00Z", person_traits(u, accountId=itr)), bb), itr)
    x.sent(_with_context_group(group(u, sab, "2024-11-02T08:10:00Z"), bb), sab)
    x.page(page(u, "2024-11-02T08:11:00.000Z", "Reports", "/reports"), sab)


def visitor_signs_up(x: Export) -> None:
    """An anonymous visitor browses (page, tracks with anonymousId only), then signs up as
    usr_homer_duff: an identify with both ids and traits.accountId = Duff Beer links the
    anonymousId to the user.  The visitor's earlier tracks belong to usr_homer_duff (before the
    first link: the earliest link) and carry Duff Beer (history: the user's first account call):
    stitched.  The later tracks with both ids carry Duff Beer as the user's own."""
    v = visitor("duff-trial-visitor")
    u = Person("usr_homer_duff", v.anonymous_id, "web", "Homer Duff", "homer@duff.example")
    d = ACC["Duff Beer"]
    x.page(page(v, "2024-11-02T10:00:00.000Z", "Pricing", "/pricing"), d)
    x.sent(track(v, "Feature Used", "2024-11-02T10:01:30.250Z", {"feature": "roi-calculator", "plan": "none"}), d, stitched=True)
    x.filtered(track(v, "Trial Started", "2024-11-02T10:02:00Z"))
    x.sent(track(v, "Signed Up", "2024-11-02T10:03:10.000Z"), d, stitched=True)
    x.sent(identify(u, "2024-11-02T10:03:12.000Z", person_traits(u, accountId=d)), d)
    x.sent(track(u, "Feature Used", "2024-11-02T10:20:00Z"), d)


def alias_links(x: Export) -> None:
    """An alias links an anonymousId to a userId (previousId → userId) although it is not sent:
    a mobile-web visitor's anonymous tracks, then a server-side alias previousId = the visitor's
    anonymousId → usr_moe_kwik, and server-side calls with userId only (a group to Kwik-E-Mart).
    The anonymous tracks carry Kwik-E-Mart (stitched)."""
    v = visitor("kwik-alias-visitor")
    k = ACC["Kwik-E-Mart"]
    x.sent(track(v, "Feature Used", "2024-11-02T12:10:00.000Z", {"feature": "bulk-edit", "plan": "none"}), k, stitched=True)
    x.sent(track(v, "Report Exported", "2024-11-02T12:12:00Z"), k, stitched=True)
    moe = Person("usr_moe_kwik", None, "server")
    al = message(moe, "alias", "2024-11-02T12:15:00.000Z")
    al["previousId"] = v.anonymous_id
    x.unsupported(al)
    x.sent(group(moe, k, "2024-11-02T12:16:00Z"), k)
    x.sent(track(moe, "Order Completed", "2024-11-02T12:20:00.000Z"), k)


def shared_computer(x: Export) -> None:
    """One anonymousId used by two users, one after the other (a shared kiosk browser), with
    timestamps in several ISO-8601 shapes: usr_ann_gym logs in at 09:00Z (identify, both ids) and
    joins Globo Gym; usr_bob_octan logs in at 13:00:00+02:00 (= 11:00Z) and joins Octan.  Anonymous
    tracks: at 2024-11-02T08:00:00 (no offset: UTC; before any link → the earliest link, Ann) →
    Globo Gym; at 10:00:00.000000Z (after Ann's link) → Globo Gym; at 06:30:00-05:00 (= 11:30Z,
    after Bob's) → Octan; at 2024-11-02T14:00:00.5+02:00 (= 12:00:00.5Z) → Octan.  All stitched."""
    anon = stable_uuid("kiosk", "shared-browser")
    ann = Person("usr_ann_gym", anon, "web", "Ann Gym", "ann@globogym.example")
    bob = Person("usr_bob_octan", anon, "web", "Bob Octan", "bob@octan.example")
    kiosk = Person(None, anon, "web")
    gg, oc = ACC["Globo Gym"], ACC["Octan"]
    early = track(kiosk, "Feature Used", "2024-11-02T08:00:00Z", {"feature": "kiosk", "plan": "none"})
    early["timestamp"] = "2024-11-02T08:00:00"   # no offset: read as UTC
    x.sent(early, gg, stitched=True)
    x.sent(identify(ann, "2024-11-02T09:00:00Z"), gg)
    x.sent(group(ann, gg, "2024-11-02T09:00:05.000Z"), gg)
    x.sent(track(kiosk, "Feature Used", "2024-11-02T10:00:00.000000Z", {"feature": "kiosk", "plan": "none"}), gg, stitched=True)
    x.sent(identify(bob, "2024-11-02T13:00:00+02:00"), oc)
    x.sent(group(bob, oc, "2024-11-02T11:00:05Z"), oc)
    x.sent(track(kiosk, "Report Exported", "2024-11-02T06:30:00-05:00"), oc, stitched=True)
    x.sent(track(kiosk, "Feature Used", "2024-11-02T14:00:00.5+02:00", {"feature": "kiosk", "plan": "none"}), oc, stitched=True)


def opted_out_identify_links_nothing(x: Export) -> None:
    """A call skipped by Consent links nothing: a visitor's anonymous tracks, then an identify
    with both ids (usr_pat_private, traits.accountId = Virtucon) and integrations
    {"Gainsight": false} → skipped.  usr_pat_private's server-side group (userId only) to
    Virtucon is sent, but the anonymous tracks stay anonymous → null (unmapped)."""
    v = visitor("virtucon-private-visitor")
    pat = Person("usr_pat_private", v.anonymous_id, "web", "Pat Private", "pat@virtucon.example")
    vc = ACC["Virtucon"]
    x.sent(track(v, "Feature Used", "2024-11-02T15:00:00.000Z", {"feature": "audit-log", "plan": "none"}), None)
    x.skipped(identify(pat, "2024-11-02T15:01:00Z", person_traits(pat, accountId=vc),
                       integrations={"Gainsight": False}))
    x.sent(group(pat.via("server"), vc, "2024-11-02T15:02:00Z"), vc)
    x.sent(track(v, "Report Exported", "2024-11-02T15:03:00.000Z"), None)


def php_empty_arrays(x: Export) -> None:
    """analytics-php encodes an empty object as an empty array: "context": [], "integrations": [],
    "properties": [], "traits": [] are read as {} and sent as {} (a track's properties then carry
    only the accountId).  usr_php_ned (server, PHP): an identify with traits.accountId =
    Ollivanders, context [] and integrations []; a track with properties [] → Ollivanders; an
    identify with traits [] → Ollivanders (history).  A non-empty array stays invalid: a track
    whose context is ["php"] is dead-lettered."""
    ned = Person("usr_php_ned", None, "server")
    ol = ACC["Ollivanders"]

    def php(ev: dict) -> dict:
        ev["context"] = []
        ev["integrations"] = []
        return ev

    x.sent(php(identify(ned, "2024-11-02T16:00:00Z", {"accountId": ol, "email": "ned@ollivanders.example"})), ol)
    x.sent(php(track(ned, "Feature Used", "2024-11-02T16:05:00Z", [])), ol)
    x.sent(php(identify(ned, "2024-11-02T16:06:00Z", [])), ol)
    bad = php(track(ned, "Report Exported", "2024-11-02T16:07:00Z"))
    bad["context"] = ["php"]
    x.invalid(bad, at=received_at(bad))


def unsent_calls_link(x: Export) -> None:
    """Events that are not sent still link: a visitor's anonymous tracks, then, after login, only
    a track off the whitelist (filtered) and a page (unsupported) carry both ids; the user's
    account comes from a server-side group (userId only, Initrode).  The anonymous tracks carry
    Initrode (stitched)."""
    v = visitor("initrode-unsent-linker")
    u = Person("usr_milton_initrode", v.anonymous_id, "web", "Milton Waddams", "milton@initrode.example")
    ini = ACC["Initrode"]
    x.sent(track(v, "Feature Used", "2024-11-02T17:00:00.000Z", {"feature": "stapler", "plan": "none"}), ini,
           stitched=True)
    x.filtered(track(u, "Dashboard Viewed", "2024-11-02T17:05:00Z"))
    x.page(page(u, "2024-11-02T17:06:00.000Z", "Reports", "/reports"), ini)
    x.sent(group(u.via("server"), ini, "2024-11-02T17:10:00Z"), ini)
    x.sent(track(v, "Report Exported", "2024-11-02T17:20:00Z"), ini, stitched=True)


def blank_lines(x: Export) -> None:
    """An empty line and a whitespace-only line: not events, counted nowhere."""
    x.blank("", at=parse_ts("2024-11-01T12:00:00Z"))
    x.blank("  \t ", at=parse_ts("2024-11-02T15:00:00Z"))


SCENARIOS = (
    steady_customers, mapped_only_users, unmapped_users, account_switcher, track_before_first_identify,
    instants_not_strings, own_account_wins, history_beats_mapping, history_ignores_rejected_calls,
    anonymous_visitor_mapped, anonymous_identify_carries_over, personas_audiences, integrations_flags,
    whitelist_name_variants, duplicate_deliveries, valid_edge_cases, dead_letters, unsupported_types,
    context_group_id, visitor_signs_up, alias_links, shared_computer, opted_out_identify_links_nothing,
    php_empty_arrays, unsent_calls_link, blank_lines,
)


# --------------------------------------------------------------------------- output

def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def file_contents(x: Export) -> dict[ArchiveFile, list[Line]]:
    by_file = {f: [] for f in FILES}
    for line in x.lines:
        by_file[line.file].append(line)
    for lines in by_file.values():
        lines.sort(key=lambda ln: (ln.at, ln.seq))
    return by_file


def summary(x: Export) -> dict:
    records = [r for _, r in x.expected]
    by_type = Counter(r["type"] for r in records)
    buckets = x.buckets
    out = {
        "read": sum(buckets[b] for b in Export.BUCKETS),
        "invalid": buckets["invalid"],
        "duplicates": buckets["duplicates"],
        "skipped_by_integrations": buckets["skipped_by_integrations"],
        "unsupported": buckets["unsupported"],
        "filtered": buckets["filtered"],
        "by_type": {t: by_type[t] for t in ("track", "identify", "group", "page")},
        "unmapped": sum(1 for r in records if r["accountId"] is None),
        "stitched": x.notes["stitched"],
        "sent": len(records),
    }
    return out


def write(x: Export) -> tuple[dict, dict[ArchiveFile, list[Line]]]:
    logs = HERE / "segment-logs"
    if logs.exists():
        shutil.rmtree(logs)
    by_file = file_contents(x)
    position = {}
    for fi, f in enumerate(FILES):
        path = HERE / f.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_gzip(b"".join(ln.data + b"\n" for ln in by_file[f])))
        for li, ln in enumerate(by_file[f]):
            position[ln.seq] = (fi, li)

    with open(HERE / "account_mapping.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["userId", "accountId"])
        for key, acct in x.mapping.items():
            w.writerow([key, acct])

    # expected.jsonl in archive order (file, then line) of each message's first copy
    ordered = sorted(x.expected, key=lambda lr: min(position[c.seq] for c in [lr[0], *lr[0].copies]))
    with open(HERE / "expected.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for _, record in ordered:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    pages = sorted(x.pages, key=lambda lr: min(position[c.seq] for c in [lr[0], *lr[0].copies]))
    with open(HERE / "expected_pages.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for _, record in pages:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    summ = summary(x)
    (HERE / "expected_summary.json").write_text(json.dumps(summ, indent=2) + "\n", encoding="utf-8")
    (HERE / "README.md").write_text(readme(x, summ, by_file), encoding="utf-8")
    return summ, by_file


def readme(x: Export, summ: dict, by_file) -> str:
    files = "\n".join(f"| `{f.relpath}` | {f.day:%Y-%m-%d} {f.start_hour:02d}:00–{f.end_hour:02d}:00 UTC "
                      f"| {len(by_file[f])} |" for f in FILES)
    scen = []
    for fn in SCENARIOS:
        doc = " ".join(fn.__doc__.split())
        scen.append(f"- **{fn.__name__}** — {doc}")
    accounts = "\n".join(f"| {name} | `{ACC[name]}` |" for name in ACCOUNT_NAMES)
    return f"""# Bundled Segment export (demo + end-to-end answer key)

A small, realistic copy of a Segment S3/GCS raw archive for source `{SOURCE_ID}`, covering
2024-11-01 and 2024-11-02, plus the answer key the end-to-end tests compare the pipeline against.
Everything here is generated by `make_samples.py`; do not edit the files by hand.

## Files

| File | Received | Lines |
|---|---|---|
{files}

Layout: `segment-logs/<source-id>/<day-epoch-ms>/<epoch-s>-<hex>.gz`, gzipped newline-delimited JSON,
one Segment message per line (compact JSON, keys sorted, UTF-8), lines within a file in `receivedAt`
order.  Lines carry `type`, `messageId`, `userId`/`anonymousId`, `timestamp`, `originalTimestamp`,
`sentAt`, `receivedAt` (with `receivedAt - (sentAt - originalTimestamp) == timestamp`), `channel`,
`context` (analytics.js / analytics-ios / analytics-python / Personas), `integrations`, `version: 2`.

- `account_mapping.csv` — `userId,accountId`; maps users that never send identify/group, one stale
  row that history must override, one anonymousId, and a row for a user absent from the export.
- `expected.jsonl` — one line per message that must reach Gainsight, in archive order of its first
  copy: `messageId` (null when the line had none), `type`, `userId`, `anonymousId` (raw values, null
  when absent or null), `event` (raw track name as sent, null for identify/group), `timestamp` (the
  line's string, unchanged), `accountId` (expected Salesforce account id, or null).
- `expected_pages.jsonl` — every page call that passes Consent, once, in the same order and shape
  (`name` instead of `event`): unsupported by Gainsight CS (the demo), and `accountId` is the
  `properties.accountId` it must carry where pages are sent (the Gainsight PX destination), by the
  same rules as a track (assuming PX's `integrations` name lets it through as Gainsight's does).
- `expected_summary.json` — the run's counters; `read` = non-blank lines =
  invalid + duplicates + skipped_by_integrations + unsupported + filtered + sent.

## Demo flags

```
python -m pipeline \\
  --input 'samples/segment-logs/*/*/*.gz' \\
  --track_whitelist "{TRACK_WHITELIST_FLAG}" \\
  --account_mapping samples/account_mapping.csv
```

The answer key is only valid with exactly this whitelist and mapping file.

## Expected summary

```json
{json.dumps(summ, indent=2)}
```

## Rules the answer key encodes

1. Blank / whitespace-only lines are not events (not counted).
2. invalid: undecodable UTF-8; JSON that is not an object; truncated JSON; NaN/Infinity literals;
   missing or non-string `type`; neither `userId` nor `anonymousId` (null or "" = absent); a track
   without a non-empty string `event`; `properties`/`traits`/`context`/`integrations` present, not
   null and not an object (an empty array `[]`, as PHP writes `{{}}`, is read and sent as `{{}}`); a
   group without `groupId`; a line over 32768 bytes; a non-string `messageId` or one over 100 chars.
3. duplicates: a sent event's `messageId` again (lines without one: same content again); first
   copy wins. A copy of a skipped event (rules 4 to 6) counts under the same reason as the event.
4. skipped_by_integrations: `integrations.Gainsight` is false, or `integrations.All` is false and
   `integrations.Gainsight` is not true (case-sensitive names).
5. unsupported: page, screen, alias, any other type but track/identify/group.
6. filtered: track whose event, lowercased with runs of space/`_`/`-`/`.` as one separator, is not in
   the whitelist normalised the same way.
7. sent: accountId = own (group `groupId`; identify `traits.accountId`, else `context.groupId`;
   track and page `properties.accountId`, else `context.groupId`); else the latest account of the
   event's user (identify own account, group `groupId`) at or before the event's instant (or the
   user's first one if all are later), counting only calls that are valid, not duplicates and not
   skipped; else the mapping by the event's user, then its own userId, then its anonymousId; else
   null (`unmapped`).
8. the event's user: its userId; with only an anonymousId, the userId that anonymousId is linked
   to by the latest link at or before the event's instant, else by the earliest link; with none,
   the anonymousId itself. Links: every valid, not skipped event carrying both ids (any type, sent
   or not), and every such alias (`previousId` → `userId`). An anonymous identify/group call's
   account counts for the user its anonymousId is linked to. `stitched` counts sent events whose
   account came through a link.

## Scenarios

{chr(10).join(scen)}

## Accounts

| Name | Salesforce id |
|---|---|
{accounts}

## Regenerate

```
.venv/bin/python samples/make_samples.py
```

Standard library only, fixed seed ({SEED}), no wall clock, gzip with mtime 0 and no file name:
running it twice gives byte-identical files.  It ends with a self-check of the answer key's
bookkeeping (counts add up, unique messageIds, files re-read as written).
"""


# --------------------------------------------------------------------------- self-check

def self_check(x: Export, summ: dict) -> None:
    """Bookkeeping checks only; the expectations themselves come from the scenarios."""
    # re-read the archive from disk
    raw_lines = []
    for f in FILES:
        data = gzip.decompress((HERE / f.relpath).read_bytes())
        assert data.endswith(b"\n"), f.name
        lines = data[:-1].split(b"\n")
        assert len(lines) >= 20, f"{f.name} has only {len(lines)} lines"
        raw_lines += lines
    events = [ln for ln in raw_lines if ln.strip()]
    blanks = len(raw_lines) - len(events)
    assert blanks == 2, blanks
    assert summ["read"] == len(events), (summ["read"], len(events))
    assert 300 <= len(raw_lines) <= 460, len(raw_lines)
    parts = ("invalid", "duplicates", "skipped_by_integrations", "unsupported", "filtered", "sent")
    assert summ["read"] == sum(summ[k] for k in parts)
    assert sum(summ["by_type"].values()) == summ["sent"]
    # every copy is byte-identical to its first line, and no two other lines are identical;
    # copies of sent lines are duplicates, copies of skipped ones share their first line's bucket
    copies = [copy for line in x.lines for copy in line.copies]
    assert len(copies) == len(events) - len(set(events)), (len(copies), len(events) - len(set(events)))
    assert summ["duplicates"] == sum(copy.bucket == "duplicates" for copy in copies)

    expected = [json.loads(ln) for ln in (HERE / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(expected) == summ["sent"]
    assert summ["unmapped"] == sum(1 for r in expected if r["accountId"] is None)
    ids = [r["messageId"] for r in expected if r["messageId"] is not None]
    assert len(ids) == len(set(ids)), "expected messageIds must be unique"
    assert sum(1 for r in expected if r["messageId"] is None) == 2
    text = b"\n".join(events).decode("utf-8", errors="replace")
    for mid in ids:
        assert f'"messageId":"{mid}"' in text, mid
        assert len(mid) <= 100
    # each expected record is an exact projection of a line that is a JSON object in the archive
    sent_lines = {id(ln): ln for ln, _ in x.expected}
    for ln, rec in x.expected:
        ev = json.loads(ln.data)
        assert isinstance(ev, dict) and ev["type"] in ("track", "identify", "group")
        assert ev["timestamp"] == rec["timestamp"] and ev.get("messageId") == rec["messageId"]
        assert len(ln.data) <= MAX_LINE_BYTES
    assert len(sent_lines) == summ["sent"]
    # account ids: 18-char Salesforce ids with a correct checksum
    all_ids = set(ACC.values())
    assert len(all_ids) == len(ACCOUNT_NAMES)
    for acct in all_ids:
        assert len(acct) == 18 and acct[15:] == salesforce_checksum(acct[:15]), acct
    for r in expected:
        assert r["accountId"] is None or r["accountId"] in all_ids
    assert set(x.mapping.values()) <= all_ids
    # the special-size lines are what they claim to be
    big = x.lines[x.notes["oversize_seq"]].data
    assert len(big) > MAX_LINE_BYTES and len(big.decode()) < MAX_LINE_BYTES
    wide = x.lines[x.notes["large_valid_seq"]].data
    assert 20000 < len(wide) < MAX_LINE_BYTES
    # rough shape of the export
    kinds = Counter()
    for ln in events:
        try:
            kinds[json.loads(ln).get("type")] += 1
        except Exception:
            kinds["(not json)"] += 1
    share = {k: round(v / len(events), 3) for k, v in kinds.items()}
    print("types in archive:", dict(kinds), share)
    print("lines:", len(raw_lines), "(blank:", blanks, ")")
    print(json.dumps(summ))


def main() -> None:
    x = Export()
    for scenario in SCENARIOS:
        scenario(x)
    summ, _ = write(x)
    self_check(x, summ)


if __name__ == "__main__":
    main()
