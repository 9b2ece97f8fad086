"""The sandbox in gainsight-api mode (python -m sandbox --destination gainsight-api) over real
HTTP: the accesskey header, envelope answers, People upsert and links, Company query / insert /
update, custom-object rows, the whole-call validation rules, the quota and the records read back."""
import pytest
import requests

from sandbox import FaultConfig, SandboxProcess

KEY = "sandbox-api-key-9f3a"
TIMEOUT = 5.0
COMPANY = "/v1/data/objects/Company"
QUERY = "/v1/data/objects/query/Company"
PEOPLE = "/v1.0/api/people"
EVENTS = "/v1/data/objects/SegmentEvent__gc"


def call(sandbox, method, path, body, key=KEY, params=None):
    headers = {} if key is None else {"accesskey": key}
    return requests.request(method, sandbox.url + path, json=body, headers=headers, params=params,
                            timeout=TIMEOUT)


@pytest.fixture
def api(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-api") as running:
        yield running


def test_every_answer_is_an_envelope_and_a_wrong_key_is_401(api):
    answer = call(api, "PUT", PEOPLE, {"Email": "a@x.example"}, key="not-it")
    assert answer.status_code == 401
    body = answer.json()
    assert set(body) == {"result", "errorCode", "errorDesc", "requestId", "data"}
    assert body["result"] is False and "not-it" not in answer.text
    assert call(api, "PUT", PEOPLE, {"Email": "a@x.example"}, key=None).status_code == 401
    ok = call(api, "PUT", PEOPLE, {"Email": "a@x.example"})
    assert ok.status_code == 200 and ok.json()["result"] is True and ok.json()["requestId"]


def test_people_upsert_by_email_merges_fields_and_adds_company_links(api):
    gsid = call(api, "POST", COMPANY, {"records": [{"Name": "Hooli"}]}).json()["data"]["records"][0]["Gsid"]
    call(api, "PUT", PEOPLE, {"Email": "a@hooli.example", "FirstName": "Ann", "Title": "CSM"})
    answer = call(api, "PUT", PEOPLE, {"Email": "a@hooli.example", "Title": "VP",
                                       "companies": [{"Company_ID": gsid}]})
    assert answer.json()["result"] is True
    (person,) = api.records()["people"]
    assert {k: person[k] for k in ("Email", "FirstName", "Title", "companies")} == {
        "Email": "a@hooli.example", "FirstName": "Ann", "Title": "VP", "companies": [gsid]}


@pytest.mark.parametrize("person, code", [
    ({"FirstName": "No Email"}, "GSOBJ_1001"),
    ({"Email": "a@x.example", "Nickname": "x"}, "GSOBJ_1002"),
    ({"Email": "a@x.example", "Gsid": "1P0"}, "GSOBJ_1002"),
    ({"Email": "a@x.example", "companies": [{"Company_ID": "1P999"}]}, "GSOBJ_1006"),
])
def test_a_person_the_api_refuses(api, person, code):
    answer = call(api, "PUT", PEOPLE, person)
    assert (answer.status_code, answer.json()["result"], answer.json()["errorCode"]) == (400, False, code)
    assert api.records()["people"] == []


def test_company_query_insert_and_update_by_name(api):
    inserted = call(api, "POST", COMPANY, {"records": [{"Name": "Hooli", "Plan__gc": "growth"},
                                                       {"Name": "Globex"}]}).json()["data"]["records"]
    query = {"select": ["Gsid", "Name"], "where": {"conditions": [
        {"name": "Name", "alias": "A", "value": ["Hooli", "Initech"], "operator": "IN"}],
        "expression": "A"}, "limit": 50}
    found = call(api, "POST", QUERY, query).json()["data"]["records"]
    assert found == [{"Gsid": inserted[0]["Gsid"], "Name": "Hooli"}]
    updated = call(api, "PUT", COMPANY, {"records": [{"Name": "Hooli", "Plan__gc": "business"}]},
                   params={"keys": "Name"})
    assert updated.json()["result"] is True
    rows = {row["Name"]: row for row in api.records()["companies"]}
    assert rows["Hooli"]["Plan__gc"] == "business" and set(rows) == {"Hooli", "Globex"}


def test_insert_of_an_existing_name_fails_the_whole_call_naming_the_record(api):
    call(api, "POST", COMPANY, {"records": [{"Name": "Hooli"}]})
    answer = call(api, "POST", COMPANY, {"records": [{"Name": "Initech"}, {"Name": "Hooli"}]})
    assert answer.status_code == 400
    assert answer.json()["data"]["errors"] == [
        {"index": 1, "errorCode": "GSOBJ_1004", "errorDesc": "a Company named 'Hooli' exists"}]
    assert [row["Name"] for row in api.records()["companies"]] == ["Hooli"]


def test_an_unknown_field_fails_the_whole_call_with_gsobj_1002(api):
    answer = call(api, "POST", EVENTS, {"records": [{"EventName__gc": "a"}, {"Colour__gc": "red"}]})
    assert (answer.status_code, answer.json()["errorCode"]) == (400, "GSOBJ_1002")
    assert api.records()["objects"]["SegmentEvent__gc"] == []


def test_at_most_50_records_a_call(api):
    records = [{"EventName__gc": f"e{i}"} for i in range(51)]
    answer = call(api, "POST", EVENTS, {"records": records})
    assert (answer.status_code, answer.json()["errorCode"]) == (400, "GSOBJ_1007")
    assert call(api, "POST", EVENTS, {"records": records[:50]}).json()["result"] is True
    assert len(api.records()["objects"]["SegmentEvent__gc"]) == 50


def test_a_bad_value_is_named_in_data_errors_and_nothing_of_the_call_is_kept(api):
    records = [{"EventName__gc": "ok"}, {"Timestamp__gc": "yesterday"}, {"EventName__gc": "x" * 300}]
    answer = call(api, "POST", EVENTS, {"records": records})
    assert answer.status_code == 400
    assert [error["index"] for error in answer.json()["data"]["errors"]] == [1, 2]
    assert api.records()["objects"]["SegmentEvent__gc"] == []


def test_unnamed_errors_give_no_data(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-api",
                        api_options={"unnamed_errors": True}) as api:
        answer = call(api, "POST", EVENTS, {"records": [{"Timestamp__gc": "yesterday"}]})
        assert (answer.status_code, answer.json()["errorCode"], answer.json()["data"]) == (
            400, "GSOBJ_1003", None)


def test_the_minute_window_and_the_day_budget_answer_429_gu_2400(tmp_path):
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-api",
                        api_options={"requests_per_minute": 1000, "requests_per_day": 3}) as api:
        statuses = [call(api, "PUT", PEOPLE, {"Email": f"{i}@x.example"}).status_code for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = call(api, "PUT", PEOPLE, {"Email": "late@x.example"})
        assert refused.json()["errorCode"] == "GU_2400" and "Retry-After" not in refused.headers
        assert api.stats()["quota"]["max_calls_in_a_day"] == 3
        assert len(api.records()["people"]) == 3
    with SandboxProcess(KEY, directory=tmp_path, destination="gainsight-api",
                        api_options={"requests_per_minute": 2}) as api:
        statuses = [call(api, "PUT", PEOPLE, {"Email": f"{i}@x.example"}).status_code for i in range(6)]
        # six calls fall in at most two minutes (a second apart at most): at most 4 pass
        assert statuses.count(429) >= 2 and set(statuses) == {200, 429}
        assert api.stats()["quota"]["max_calls_in_a_minute"] == 2
        assert len(api.records()["people"]) == statuses.count(200)


def test_injected_faults_come_in_the_envelope(tmp_path):
    with SandboxProcess(KEY, FaultConfig(rate_429=1.0, retry_after_seconds=2), directory=tmp_path,
                        destination="gainsight-api") as api:
        answer = call(api, "PUT", PEOPLE, {"Email": "a@x.example"})
        assert (answer.status_code, answer.json()["errorCode"], answer.headers["Retry-After"]) == (
            429, "GU_2400", "2")
        assert api.records()["people"] == []
