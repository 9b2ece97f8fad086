"""--destination gainsight-api merges over the whole backfill, not per batch: the real CLI with
batches of 4 events against the sandbox's gainsight-api mode. A person's identify calls (its
anonymous visit stitched to it included) become one People upsert, and every write of a company
that many users' group calls name carries the latest value of each field in timestamp order,
whichever batch writes it and in whatever order the batches are delivered. And the graph with
these steps builds for Dataflow (a dry run)."""
import random
from collections import Counter

from tests.e2e.cli import run_cli, write_jsonl
from tests.e2e.test_gainsight_api import API_KEY, api_sandbox

USERS = 12
VISITORS = 4


def backfill():
    """Users u00..u11: an identify, and a group call naming Hooli with a plan of its own at a
    shuffled hour; visitors v0..v3: an anonymous identify, then their user's identify (both ids,
    a later title). -> (events, the latest plan, {email: title it must end with})."""
    hours = random.Random(5).sample(range(USERS), USERS)
    events, titles = [], {}
    for n in range(USERS):
        user, email = f"u{n:02d}", f"u{n:02d}@hooli.example"
        events.append({"type": "identify", "userId": user, "messageId": f"i-{user}",
                       "timestamp": "2024-11-01T00:00:00Z", "traits": {"email": email, "title": "Engineer"}})
        events.append({"type": "group", "userId": user, "messageId": f"g-{user}", "groupId": "ACC-1",
                       "timestamp": f"2024-11-02T{hours[n]:02d}:00:00Z",
                       "traits": {"name": "Hooli", "industry": f"industry-{hours[n]}"}})
        titles[email] = "Engineer"
    for n in range(VISITORS):
        anonymous, user, email = f"anon-{n}", f"v{n}", f"v{n}@hooli.example"
        events.append({"type": "identify", "anonymousId": anonymous, "messageId": f"a-{n}",
                       "timestamp": "2024-11-03T09:00:00Z", "traits": {"email": email, "title": "Visitor"}})
        events.append({"type": "identify", "userId": user, "anonymousId": anonymous, "messageId": f"s-{n}",
                       "timestamp": "2024-11-03T10:00:00Z", "traits": {"email": email, "title": "CTO"}})
        titles[email] = "CTO"
    random.Random(9).shuffle(events)
    return events, f"industry-{USERS - 1}", titles


def test_people_are_upserted_once_and_every_company_write_carries_the_latest_values(tmp_path):
    events, industry, titles = backfill()
    source = write_jsonl(tmp_path / "events.jsonl", events)
    with api_sandbox(tmp_path / "sandbox") as sandbox:
        result = run_cli(["--input", str(source), "--destination", "gainsight-api",
                          "--gainsight_domain", sandbox.url, "--batch_size", "4",
                          "--max_requests_per_minute", "60000"], tmp_path / "out", access_key=API_KEY)
        assert result.code == 0, result.stderr
        calls = sandbox.received()
        records = sandbox.records()
    upserts = Counter(call["body"]["Email"] for call in calls if call["path"] == "/v1.0/api/people")
    assert upserts == Counter(list(titles))                             # one upsert per person
    assert {person["Email"]: person["Title"] for person in records["people"]} == titles
    company_writes = [record for call in calls if call["path"].startswith("/v1/data/objects/Company")
                      for record in call["body"]["records"]]
    # each worker writes it once (its later batches find it written as it stands); merged per
    # batch instead, every batch would write its own users' latest value
    assert company_writes and {record["Industry"] for record in company_writes} == {industry}
    (company,) = records["companies"]
    assert (company["Name"], company["Industry"]) == ("Hooli", industry)
    linked = [person["Email"] for person in records["people"] if person["companies"] == [company["Gsid"]]]
    assert sorted(linked) == sorted(email for email in titles if email.startswith("u"))
    assert result.summary["delivered"] == len(events) and result.summary["balanced"]


def test_a_dataflow_dry_run_of_a_backfill_builds_its_graph_users_batches_and_merged_companies_included(tmp_path):
    result = run_cli(["--input", "gs://my-bucket/segment-logs/*/*/*.gz", "--runner=DataflowRunner",
                      "--dry_run=True", "--no_auth", "--sdk_location=container", "--project=my-project",
                      "--region=us-central1", "--temp_location=gs://my-bucket/tmp", "--setup_file", "./setup.py",
                      "--destination", "gainsight-api", "--gainsight_domain", "https://acme.eu.gainsightcloud.com",
                      "--access_key_secret", "projects/my-project/secrets/gainsight/versions/latest",
                      "--event_object", "SegmentEvent__gc"], tmp_path, dead_letter="gs://my-bucket/dead-letter/dl")
    assert result.code == 0, result.stderr
    assert "dry run: the job graph was built and not submitted" in result.stdout
