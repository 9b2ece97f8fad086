"""--destination gainsight-api end to end: the real CLI over the bundled samples against the
sandbox's gainsight-api mode, over real HTTP; every Person, Company, link and event row the
sandbox holds at the end compared with an answer key worked out here from the samples' raw
lines and samples/expected.jsonl (which events must reach Gainsight). Also: faults and a bad
record, a rejected key, --preview, the day budget with and without --checkpoint, an outage,
and a stream from the Pub/Sub stand-in."""
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path


from bench.generate import generate
from sandbox.faults import FaultConfig
from sandbox.process import SandboxProcess
from tests.conftest import ACCESS_KEY
from tests.e2e.cli import ROOT, read_jsonl, run_cli, write_jsonl
from tests.e2e.streaming import _default_sigint, publish, stop_job, wait_for
from tests.pubsub_service import PROJECT

API_KEY = "e2e-gainsight-api-key-4c1d9a"
SAMPLES = ROOT / "samples"
SAMPLE_INPUT = str(SAMPLES / "segment-logs" / "*" / "*" / "*.gz")
WHITELIST = "Order Completed,Signed Up,Feature Used,Report Exported"
PERSON_FIELDS = {"traits.email": "Email", "traits.firstName": "FirstName", "traits.lastName": "LastName",
                 "traits.name": "Name", "traits.title": "Title", "traits.plan": "Plan__gc"}
COMPANY_FIELDS = {"traits.name": "Name", "traits.plan": "Plan__gc", "traits.website": "Website__gc"}
FIELD_FLAGS = ([flag for path, name in PERSON_FIELDS.items() for flag in ("--person_field", f"{path}={name}")]
               + [flag for path, name in COMPANY_FIELDS.items() for flag in ("--company_field", f"{path}={name}")]
               + ["--event_object", "SegmentEvent__gc"])
BAD_TRACK = {"type": "track", "event": "Order Completed", "userId": "u" * 300, "messageId": "bad-track-1",
             "timestamp": "2024-11-02T09:00:00Z", "properties": {"accountId": "0015g00000jrYjuAAE"}}


def api_sandbox(directory: Path, faults=FaultConfig(), **options):
    directory.mkdir(exist_ok=True)
    return SandboxProcess(API_KEY, faults, directory=directory, destination="gainsight-api",
                          api_options={"requests_per_minute": 100_000, **options})


def run_api(tmp_path, domain, *extra, inputs=(SAMPLE_INPUT,), key=API_KEY):
    args = [arg for pattern in inputs for arg in ("--input", pattern)]
    return run_cli([*args, "--account_mapping", str(SAMPLES / "account_mapping.csv"),
                    "--track_whitelist", WHITELIST, "--destination", "gainsight-api",
                    "--gainsight_domain", domain, "--max_requests_per_minute", "60000", *FIELD_FLAGS, *extra],
                   tmp_path / "out", access_key=key)


# -- the answer key ---------------------------------------------------------------------------

def instant(text):
    if not text:
        return float("-inf")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def row_key(message_id, user, event, timestamp):
    """A row's name in the answer key: its messageId, or for the lines that had none (the job
    gives them one) what the line says."""
    if isinstance(message_id, str) and message_id and not message_id.startswith("derived-"):
        return message_id
    return (user, event, timestamp)


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def raw_events() -> dict:
    """messageId (or, for a line without one, (userId, event, timestamp)) -> the first copy of
    it in the archive (files in name order, lines in order)."""
    found = {}
    for path in sorted(SAMPLES.glob("segment-logs/*/*/*.gz")):
        for line in gzip.open(path, "rb"):
            try:
                event = json.loads(line.decode("utf-8"), parse_constant=_not_json)
            except ValueError:   # not UTF-8, or not JSON (NaN): the parse step's dead letters
                continue
            if isinstance(event, dict):
                found.setdefault(row_key(event.get("messageId"), event.get("userId"), event.get("event"),
                                         event.get("timestamp")), event)
    return found


def samples_sent() -> list:
    """The samples' events that must reach Gainsight (samples/expected.jsonl), as the job sends
    them: a track carries its account as properties.accountId."""
    raw = raw_events()
    sent = []
    for row in read_jsonl(str(SAMPLES / "expected.jsonl")):
        event = dict(raw[row_key(row["messageId"], row["userId"], row["event"], row["timestamp"])])
        if row["type"] == "track" and row["accountId"]:
            event["properties"] = {**(event.get("properties") or {}), "accountId": row["accountId"]}
        sent.append(event)
    return sent


def answer_key(sent=None) -> dict:
    """What the sandbox must hold after `sent` (default: the samples') reached it in one batch:
    people by Email (with the Names of their companies), companies by Name, event rows by
    messageId; and the identifies that have no email, the groups that cannot be linked."""
    by_time = sorted(samples_sent() if sent is None else sent, key=lambda event: instant(event.get("timestamp")))
    emails, people, companies, links, rows = {}, {}, {}, {}, {}
    no_email, not_linked = set(), 0
    # a visit is its user's when an event sent names both ids (the latest such event in time)
    signed_in = {event["anonymousId"]: event["userId"] for event in by_time
                 if event.get("userId") and event.get("anonymousId")}

    def user(event):
        return event.get("userId") or signed_in.get(event.get("anonymousId")) or event.get("anonymousId")

    for event in by_time:
        if event["type"] == "identify" and (event.get("traits") or {}).get("email"):
            emails[user(event)] = event["traits"]["email"]
    for event in by_time:
        traits = event.get("traits") or {}
        if event["type"] == "identify" and user(event) in emails:
            email = emails[user(event)]
            person = people.setdefault(email, {})
            person.update({name: traits[path[7:]] for path, name in PERSON_FIELDS.items()
                           if traits.get(path[7:]) is not None})
            person["Email"] = email
        elif event["type"] == "identify":
            no_email.add(event.get("messageId"))
        elif event["type"] == "group":
            company = companies.setdefault(traits["name"], {})
            company.update({name: traits[path[7:]] for path, name in COMPANY_FIELDS.items()
                            if traits.get(path[7:]) is not None})
            if user(event) in emails:
                email = emails[user(event)]
                people.setdefault(email, {"Email": email})
                links.setdefault(email, set()).add(traits["name"])
            else:
                not_linked += 1
        elif event["type"] == "track":
            properties = event.get("properties") or {}
            name = row_key(event.get("messageId"), event.get("userId"), event["event"], event.get("timestamp"))
            rows[name] = {key: value for key, value in {
                "EventName__gc": event["event"], "UserId__gc": event.get("userId"),
                "AccountId__gc": properties.get("accountId"), "Timestamp__gc": event.get("timestamp"),
                "MessageId__gc": None if isinstance(name, tuple) else name,
                "Properties__gc": properties}.items() if value is not None}
    return {"people": {email: {**person, "companies": sorted(links.get(email, ()))}
                       for email, person in people.items()},
            "companies": companies, "rows": rows, "no_email": no_email, "not_linked": not_linked}


def held(sandbox) -> dict:
    """The sandbox's final records in the answer key's shape."""
    records = sandbox.records()
    names = {company["Gsid"]: company["Name"] for company in records["companies"]}
    people = {person["Email"]: {**{k: v for k, v in person.items() if k not in ("Gsid", "companies")},
                                "companies": sorted(names[gsid] for gsid in person["companies"])}
              for person in records["people"]}
    companies = {company["Name"]: {k: v for k, v in company.items() if k != "Gsid"}
                 for company in records["companies"]}
    rows = {}
    for row in records["objects"]["SegmentEvent__gc"]:
        name = row_key(row["MessageId__gc"], row.get("UserId__gc"), row["EventName__gc"], row.get("Timestamp__gc"))
        assert name not in rows, f"{name} written twice"
        rows[name] = {**{k: v for k, v in row.items() if k != "Gsid"},
                      "Properties__gc": json.loads(row["Properties__gc"])}
        if isinstance(name, tuple):   # the job named it: that it has a name is all to compare
            assert rows[name].pop("MessageId__gc")
    assert len(people) == len(records["people"]) and len(companies) == len(records["companies"])
    return {"people": people, "companies": companies, "rows": rows}


def assert_holds(sandbox, key):
    final = held(sandbox)
    for kind in ("people", "companies", "rows"):
        assert sorted(final[kind], key=str) == sorted(key[kind], key=str), kind
        for name, record in key[kind].items():
            assert final[kind][name] == record, (kind, name)


# -- the tests --------------------------------------------------------------------------------

def test_the_samples_reach_people_companies_links_and_event_rows_as_the_answer_key_says(tmp_path):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        result = run_api(tmp_path, sandbox.url)
        assert result.code == 0, result.stderr
        key = answer_key()
        assert_holds(sandbox, key)
        stats = sandbox.stats()
    summary = result.summary
    assert summary["balanced"] and summary["delivered"] + summary["dead_lettered"] == 218
    assert summary["requests"] == stats["accepted"] - 1       # the key check is not a delivery call
    assert summary["requests"] < 218 / 5                      # batched: far fewer calls than events
    assert API_KEY not in result.stdout + result.stderr
    deliver = [record for record in result.dead_letters if record["stage"] == "deliver"]
    assert {r["event"]["messageId"] for r in deliver} == key["no_email"] != set()
    assert all("without an email" in r["reason"] for r in deliver)
    assert summary["not_linked"] == key["not_linked"] > 0


def test_under_injected_429_503_and_resets_with_one_bad_record_only_it_is_dead_lettered(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [BAD_TRACK])
    faults = FaultConfig(rate_503=0.1, rate_429=0.1, drop_rate=0.05, retry_after_seconds=0, seed=11)
    with api_sandbox(tmp_path / "sandbox", faults) as sandbox:
        result = run_api(tmp_path, sandbox.url, "--max_retries", "10", inputs=(SAMPLE_INPUT, str(bad)))
        assert result.code == 0, result.stderr
        assert_holds(sandbox, answer_key())
        injected = sandbox.stats()["injected"]
    assert injected["503"] and injected["429"] and injected["drop"]
    (dead,) = [r for r in result.dead_letters if r["stage"] == "deliver" and r["event"]["type"] == "track"]
    assert dead["event"]["messageId"] == "bad-track-1"
    assert "GSOBJ_1003" in dead["reason"] and "UserId__gc" in dead["reason"]
    assert result.summary["balanced"] and result.summary["retries"] > 0


def test_when_the_answer_names_no_record_the_call_is_split_until_the_bad_one_is_alone(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [BAD_TRACK])
    with api_sandbox(tmp_path / "sandbox", unnamed_errors=True) as sandbox:
        result = run_api(tmp_path, sandbox.url, inputs=(SAMPLE_INPUT, str(bad)))
        assert result.code == 0, result.stderr
        assert_holds(sandbox, answer_key())
    (dead,) = [r for r in result.dead_letters if r["stage"] == "deliver" and r["event"]["type"] == "track"]
    assert dead["event"]["messageId"] == "bad-track-1" and "GSOBJ_1003" in dead["reason"]


def test_a_rejected_key_exits_3_before_reading_anything(tmp_path):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        result = run_api(tmp_path, sandbox.url, key="not-the-key")
        stats = sandbox.stats()
        records = sandbox.records()
    assert result.code == 3, result.stderr
    assert "rejected the key" in result.stderr and "not-the-key" not in result.stderr + result.stdout
    assert stats["unauthorized"] == 1 and stats["accepted"] == 0
    assert records == {"people": [], "companies": [], "objects": {"SegmentEvent__gc": []}}
    assert result.summary is None


def test_without_an_event_object_tracks_are_unsupported_and_the_start_up_line_says_why(tmp_path):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        flags = [flag for flag in FIELD_FLAGS if flag not in ("--event_object", "SegmentEvent__gc")]
        source = write_jsonl(tmp_path / "events.jsonl", [
            {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "a@x.example"}},
            {"type": "track", "userId": "u1", "messageId": "t1", "event": "Signed Up"}])
        result = run_cli(["--input", str(source), "--destination", "gainsight-api",
                          "--gainsight_domain", sandbox.url, *flags], tmp_path / "out", access_key=API_KEY)
        records = sandbox.records()
    assert result.code == 0, result.stderr
    assert "track calls are not sent" in result.stderr and "--event_object" in result.stderr
    assert result.summary["unsupported_by_type"]["track"] == 1 and result.summary["delivered"] == 1
    assert [person["Email"] for person in records["people"]] == ["a@x.example"]


def test_preview_writes_each_call_without_the_key(tmp_path):
    source = write_jsonl(tmp_path / "events.jsonl", [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "a@x.example", "plan": "pro"}},
        {"type": "group", "userId": "u1", "messageId": "g1", "groupId": "acc-1", "traits": {"name": "Hooli"}},
        {"type": "track", "userId": "u1", "messageId": "t1", "event": "Signed Up"}])
    result = run_cli(["--input", str(source), "--destination", "gainsight-api",
                      "--gainsight_domain", "https://acme.gainsightcloud.com", *FIELD_FLAGS,
                      "--preview", str(tmp_path / "preview") + "/"], tmp_path / "out", access_key=API_KEY)
    assert result.code == 0, result.stderr
    lines = read_jsonl(str(tmp_path / "preview" / "preview*.jsonl"))
    calls = sorted((line["method"], line["path"], json.dumps(line["body"], sort_keys=True)) for line in lines)
    assert ("PUT", "/v1.0/api/people", json.dumps({"Email": "a@x.example", "Plan__gc": "pro"}, sort_keys=True)) in calls
    assert ("POST", "/v1/data/objects/query/Company") in {call[:2] for call in calls}
    track_rows = [line["body"]["records"] for line in lines if line["path"] == "/v1/data/objects/SegmentEvent__gc"]
    assert track_rows == [[{"EventName__gc": "Signed Up", "UserId__gc": "u1", "MessageId__gc": "t1",
                            "AccountId__gc": "acc-1", "Properties__gc": '{"accountId":"acc-1"}'}]]  # from the group
    assert all(line["url"].startswith("https://acme.gainsightcloud.com/") for line in lines)
    assert API_KEY not in "".join(path.read_text() for path in (tmp_path / "preview").iterdir())
    assert result.summary["previewed"] == 3


def test_the_day_budget_stops_a_backfill_with_its_own_code_and_the_same_command_resumes(tmp_path):
    checkpoint = str(tmp_path / "checkpoint")
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        first = run_api(tmp_path, sandbox.url, "--checkpoint", checkpoint, "--max_requests_per_day", "10")
        spent = sandbox.stats()["quota"]["max_calls_in_a_day"]
        assert first.code == 7, first.stderr
        assert "renews at 00:00 UTC" in first.stderr and "run the same command again then" in first.stderr
        assert f"{first.summary['unsent']} events were not sent" in first.stderr
        assert first.summary["unsent"] > 0 and first.summary["budget_spent"] == first.summary["unsent"]
        assert first.summary["balanced"] and first.summary["requests"] == 10
        assert spent == 11   # ten calls and the key check, never more
        second = run_api(tmp_path / "again", sandbox.url, "--checkpoint", checkpoint)
        assert second.code == 0, second.stderr
        settled_first = first.summary["delivered"] + sum(1 for r in first.dead_letters if r["stage"] == "deliver")
        assert second.summary["already_settled"] == settled_first > 0
        assert second.summary["delivered"] + second.summary["already_settled"] == 218
        assert second.summary["dead_lettered"] == 0   # the identify without an email settled in the first
        assert_holds(sandbox, answer_key())


def test_without_a_checkpoint_what_the_day_budget_left_unsent_is_dead_lettered_saying_why(tmp_path):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        result = run_api(tmp_path, sandbox.url, "--max_requests_per_day", "3")
        assert sandbox.stats()["quota"]["max_calls_in_a_day"] == 4   # three calls and the key check
    assert result.code == 7, result.stderr
    budget = [r for r in result.dead_letters if "--max_requests_per_day" in r["reason"]]
    assert len(budget) == result.summary["budget_spent"] > 0 and result.summary["unsent"] == 0
    assert f"{len(budget)} events not sent are in the dead letter" in result.stderr


def test_an_outage_after_the_key_check_is_waited_out_and_every_record_arrives(tmp_path):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        runs = []
        job = threading.Thread(target=lambda: runs.append(run_api(
            tmp_path, sandbox.url, "--max_requests_per_minute", "300", "--max_retries", "1")))
        job.start()
        deadline = time.monotonic() + 120
        while sandbox.stats()["accepted"] < 1 and time.monotonic() < deadline:   # the key check
            time.sleep(0.05)
        sandbox.set_faults(outage_seconds=4)   # down from now on for 4 s: 503s and resets
        job.join(300)
        (result,) = runs
        assert result.code == 0, result.stderr
        assert_holds(sandbox, answer_key())
        outage = sandbox.stats()["outage"]
    assert outage["503"] + outage["drop"] > 0
    assert result.summary["outages"] >= 1 and result.summary["balanced"]
    assert not [r for r in result.dead_letters if r["stage"] == "deliver" and "without an email" not in r["reason"]]


def test_a_stream_batches_within_the_buffering_time_and_writes_each_record(tmp_path, pubsub_topics):
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        env = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_topics.host, "GAINSIGHT_ACCESS_KEY": API_KEY}
        job = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--input_subscription", pubsub_topics.subscription,
             "--project", PROJECT,
             "--destination", "gainsight-api", "--gainsight_domain", sandbox.url, "--event_object",
             "SegmentEvent__gc", "--max_buffering_seconds", "1", "--max_requests_per_minute", "6000",
             "--dead_letter", str(tmp_path / "dead-letter" / "")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=_default_sigint)
        try:
            publish(pubsub_topics.topic, [
                {"type": "identify", "userId": "u1", "messageId": "s-i1", "timestamp": "2024-11-01T10:00:00Z",
                 "traits": {"email": "ann@hooli.example", "firstName": "Ann"}}])
            wait_for(lambda: sandbox.records()["people"], what="the person", job=job)
            publish(pubsub_topics.topic, [
                {"type": "group", "userId": "u1", "messageId": "s-g1", "groupId": "ACC-1",
                 "timestamp": "2024-11-01T10:01:00Z", "traits": {"name": "Hooli"},
                 "context": {"traits": {"email": "ann@hooli.example"}}},
                {"type": "track", "userId": "u1", "messageId": "s-t1", "event": "Signed Up",
                 "timestamp": "2024-11-01T10:02:00Z"}])
            wait_for(lambda: sandbox.records()["objects"]["SegmentEvent__gc"]
                     and sandbox.records()["people"][0]["companies"],
                     what="the company, the link and the row", job=job)
            time.sleep(2)   # anything sent twice would have arrived by now
        finally:
            stdout, stderr = stop_job(job)
        records = sandbox.records()
    (company,) = records["companies"]
    (person,) = records["people"]
    (row,) = records["objects"]["SegmentEvent__gc"]
    assert company["Name"] == "Hooli" and person["companies"] == [company["Gsid"]], stderr[-2000:]
    assert (person["Email"], person["FirstName"]) == ("ann@hooli.example", "Ann")
    assert (row["MessageId__gc"], row["AccountId__gc"]) == ("s-t1", "ACC-1")
    assert API_KEY not in stdout + stderr


def test_a_generated_backfill_under_faults_ends_as_the_classic_destinations_events_say(tmp_path):
    manifest = generate(6_000, tmp_path / "data", seed=23)
    common = ["--input", manifest["input"], "--account_mapping", manifest["account_mapping"],
              "--track_whitelist", manifest["track_whitelist"]]
    # What is sent, event by event, as the connector destination receives it (its own tests
    # hold it to the generator's expectations): the answer key is worked out from it.
    (tmp_path / "classic").mkdir()
    with SandboxProcess(ACCESS_KEY, directory=tmp_path / "classic") as classic:
        sent = run_cli([*common, "--gainsight_endpoint", classic.url, "--max_requests_per_second", "2000"],
                       tmp_path / "classic-out", access_key=ACCESS_KEY)
        assert sent.code == 0, sent.stderr
        events = classic.received()
    faults = FaultConfig(rate_503=0.05, rate_429=0.05, drop_rate=0.03, retry_after_seconds=0, seed=5)
    with api_sandbox(tmp_path / "sandbox", faults) as sandbox:
        result = run_cli([*common, "--destination", "gainsight-api", "--gainsight_domain", sandbox.url,
                          "--max_requests_per_minute", "60000", "--max_retries", "10", *FIELD_FLAGS],
                         tmp_path / "out", access_key=API_KEY)
        assert result.code == 0, result.stderr
        key = answer_key(events)
        assert len(key["people"]) > 50 and len(key["companies"]) > 10 and len(key["rows"]) > 500
        assert sum(1 for person in key["people"].values() if person["companies"]) > 20
        assert_holds(sandbox, key)
        assert sum(sandbox.stats()["injected"].values()) > 0
    deliver = [record for record in result.dead_letters if record["stage"] == "deliver"]
    assert {r["event"]["messageId"] for r in deliver} == key["no_email"]
    assert result.summary["delivered"] == len(events) - len(key["no_email"])
    assert result.summary["not_linked"] == key["not_linked"] and result.summary["balanced"]
