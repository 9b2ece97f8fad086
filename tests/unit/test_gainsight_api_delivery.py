"""The multi-record destination interface over real HTTP against the sandbox's gainsight-api
mode: a Call's method and path, an answer settling each record with its own reason, the calls
a batch makes, and a company inserted by someone else between the query and the insert."""
import json
import random

import pytest
import requests

from sandbox.process import SandboxProcess
from transforms.delivery import destinations
from transforms.delivery.destinations import gainsight_api as api
from transforms.delivery.destinations.base import BatchContext, Call
from transforms.delivery.http_delivery import RateLimiter, RequestSender, RetryPolicy, make_session

KEY = "unit-gainsight-api-key"


@pytest.fixture
def sandbox(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-api") as running:
        yield running


def sender_for(sandbox, settings=api.Settings()):
    destination = destinations.get("gainsight-api", settings)
    session = make_session(destination.credential.headers(KEY), 4)
    return destination, RequestSender(session, destination.url(sandbox.url),
                                      RetryPolicy(max_retries=2, backoff_base_seconds=0.0),
                                      RateLimiter(1000.0), destination, sleep=lambda s: None,
                                      rng=random.Random(1))


def test_an_exchange_sends_the_calls_method_and_path_and_returns_the_answer(sandbox):
    destination, sender = sender_for(sandbox)
    body = json.dumps({"Email": "a@x.example"}).encode()
    outcomes, text = sender.exchange(lambda pending: Call("PUT", api.PEOPLE_PATH, body), 1, destination.classify)
    assert outcomes[0].delivered and json.loads(text)["data"]["Email"] == "a@x.example"
    assert sandbox.received()[0]["method"] == "PUT" and sandbox.received()[0]["path"] == api.PEOPLE_PATH


def test_only_the_records_an_answer_names_are_refused_each_with_its_own_error(sandbox):
    _, sender = sender_for(sandbox)
    calls = api.Calls(sender)
    rows = [{"EventName__gc": "a"}, {"Timestamp__gc": "yesterday"}, {"EventName__gc": "c"}]
    outcomes, _ = calls.write("POST", api.OBJECTS_PATH + "SegmentEvent__gc", rows)
    assert [outcome.delivered for outcome in outcomes] == [True, False, True]
    assert outcomes[1].reason == "HTTP 400 GSOBJ_1003: Timestamp__gc must be an ISO-8601 date and time"
    assert len(calls.made) == 2   # the call, then it again without the bad record
    assert sorted(row["EventName__gc"] for row in sandbox.records()["objects"]["SegmentEvent__gc"]) == ["a", "c"]


def test_an_unknown_field_fails_every_record_alike_without_splitting(sandbox):
    _, sender = sender_for(sandbox)
    calls = api.Calls(sender)
    outcomes, _ = calls.write("POST", api.OBJECTS_PATH + "SegmentEvent__gc",
                              [{"Colour__gc": "red"}, {"Colour__gc": "blue"}])
    assert [outcome.delivered for outcome in outcomes] == [False, False]
    assert all("GSOBJ_1002" in outcome.reason for outcome in outcomes) and len(calls.made) == 1


class InsertsFirst:
    """A sender that lets someone else insert `name` right after the first call (the query)."""

    def __init__(self, sender, sandbox, name):
        self._sender, self._sandbox, self._name, self._calls = sender, sandbox, name, 0

    def exchange(self, request_for, events, classify):
        answer = self._sender.exchange(request_for, events, classify)
        self._calls += 1
        if self._calls == 1:
            requests.post(self._sandbox.url + api.OBJECTS_PATH + "Company", headers={"accesskey": KEY},
                          json={"records": [{"Name": self._name, "Industry": "old"}]}, timeout=5)
        return answer


def test_a_company_inserted_meanwhile_is_updated_instead(sandbox):
    _, sender = sender_for(sandbox)
    events = [{"type": "group", "userId": "u1", "messageId": "g1", "groupId": "acc-1",
               "traits": {"name": "Hooli", "industry": "Search"}}]
    delivery = api.deliver(api.Settings(), [json.dumps(event) for event in events],
                           InsertsFirst(sender, sandbox, "Hooli"))
    assert [outcome.delivered for outcome in delivery.outcomes] == [True]
    (company,) = sandbox.records()["companies"]
    assert company["Industry"] == "Search"
    assert len(delivery.calls) == 4   # query, insert (refused), query again, update


def test_companies_keyed_by_group_id_are_inserted_then_updated_by_that_key(sandbox):
    settings = api.settings_from(company_fields=["groupId=SegmentId__gc", "traits.name=Name"],
                                 company_key="SegmentId__gc")
    _, sender = sender_for(sandbox, settings)

    def group(message_id, name):
        return json.dumps({"type": "group", "userId": "u1", "messageId": message_id, "groupId": "acc-1",
                           "traits": {"name": name}})

    first = api.deliver(settings, [group("g1", "Hooli")], sender)
    second = api.deliver(settings, [group("g2", "Hooli Inc")], sender)   # renamed: same group id
    assert [o.delivered for o in first.outcomes + second.outcomes] == [True, True]
    assert [row["query"] for row in sandbox.received() if row["method"] == "PUT"] == [{"keys": "SegmentId__gc"}]
    (company,) = sandbox.records()["companies"]
    assert (company["SegmentId__gc"], company["Name"]) == ("acc-1", "Hooli Inc")


class DiesOnCall:
    """A sender that raises (as a killed worker stops) when call number `fatal` is about to go."""

    def __init__(self, sender, fatal):
        self._sender, self._fatal, self.calls = sender, fatal, 0

    def exchange(self, request_for, events, classify):
        self.calls += 1
        if self.calls == self._fatal:
            raise SystemExit("killed")
        return self._sender.exchange(request_for, events, classify)


def test_each_fifty_rows_are_reported_delivered_as_their_call_answers_before_the_batch_ends(sandbox):
    settings = api.settings_from(event_object="SegmentEvent__gc")
    _, sender = sender_for(sandbox, settings)
    identify = {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "a@x.example"}}
    tracks = [{"type": "track", "userId": "u1", "messageId": f"t{n}", "event": "Used"} for n in range(120)]
    bodies = [json.dumps(event) for event in [identify, *tracks]]
    heard = []
    # calls: the People upsert, rows 0-49, rows 50-99; the fourth (rows 100-119) never goes
    with pytest.raises(SystemExit):
        api.deliver(settings, bodies, DiesOnCall(sender, fatal=4), BatchContext(delivered=heard.append))
    assert heard == [[0], list(range(1, 51)), list(range(51, 101))]
    written = sorted(int(row["MessageId__gc"][1:]) for row in sandbox.records()["objects"]["SegmentEvent__gc"])
    assert written == list(range(100))   # exactly the rows reported: a resume sends only the rest


def test_in_a_backfill_a_company_this_worker_wrote_as_it_stands_is_not_written_again(sandbox):
    _, sender = sender_for(sandbox)
    merged = {"Hooli": {"Name": "Hooli", "Industry": "Search"}}
    context = BatchContext(shared=merged)

    def group(user, industry):
        return json.dumps({"type": "group", "userId": user, "messageId": f"g-{user}", "groupId": "acc-1",
                           "traits": {"name": "Hooli", "industry": industry}})

    first = api.deliver(api.Settings(), [group("u1", "Search")], sender, context)
    second = api.deliver(api.Settings(), [group("u2", "Old")], sender, context)
    merged["Hooli"] = {"Name": "Hooli", "Industry": "Search engines"}   # a different merge: written
    third = api.deliver(api.Settings(), [group("u3", "Search engines")], sender, context)
    assert [o.delivered for o in first.outcomes + second.outcomes + third.outcomes] == [True] * 3
    assert (len(first.calls), len(second.calls), len(third.calls)) == (2, 0, 2)   # query + insert; none; query + update
    company_calls = [row for row in sandbox.received() if "Company" in row["path"]]
    assert [row["method"] for row in company_calls] == ["POST", "POST", "POST", "PUT"]
    (company,) = sandbox.records()["companies"]
    assert company["Industry"] == "Search engines"
