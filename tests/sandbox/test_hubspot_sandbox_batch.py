"""Contract: batch endpoints and search (docs/reference/hubspot.md#search, docs/reference/hubspot.md#batch-endpoints, docs/reference/hubspot.md#paging)."""

from __future__ import annotations

import pytest

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def _inputs(n, *, trace=True, start=0):
    return [
        {
            "idProperty": "email",
            "id": f"u{i}@acme.com",
            "properties": {"firstname": f"U{i}"},
            **({"objectWriteTraceId": f"rr-{i}"} if trace else {}),
        }
        for i in range(start, start + n)
    ]


def _bad_batch(trace):
    good = _inputs(2, trace=trace)
    bad = [
        {"idProperty": "email", "id": "not-an-email", "properties": {}},
        {"idProperty": "email", "id": "b1@acme.com", "properties": {"favourite_colour": "red"}},
        {"idProperty": "email", "id": "b2@acme.com", "properties": {"hs_object_id": "7"}},
        {"idProperty": "email", "id": "b3@acme.com", "properties": {"hs_lead_status": "HOT"}},
    ]
    for n, item in enumerate(bad):
        if trace:
            item["objectWriteTraceId"] = f"bad-{n}"
    return good + bad


def test_upsert_creates_then_updates_with_new_flag(app, client):
    first = client.post(UPSERT, json={"inputs": _inputs(3)})
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "COMPLETE"
    assert {"startedAt", "completedAt"} <= set(body)
    assert "errors" not in body
    assert all(r["new"] is True for r in body["results"])
    assert all(isinstance(r["id"], str) for r in body["results"])
    second = client.post(UPSERT, json={"inputs": _inputs(2, start=2)}).json()
    assert [r["new"] for r in second["results"]] == [False, True]
    assert len(app.objects("contacts")) == 4


def test_an_email_upsert_with_a_bad_row_fails_whole_by_default_even_with_trace_ids(app, client):
    response = client.post(UPSERT, json={"inputs": _bad_batch(trace=True)})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert app.objects("contacts") == []  # the good rows were not written either


def test_results_echo_their_trace_id_unless_withheld(app, client):
    body = client.post(UPSERT, json={"inputs": _inputs(2)}).json()
    assert sorted(r["objectWriteTraceId"] for r in body["results"]) == ["rr-0", "rr-1"]
    app.configure(echo_trace_ids=False)
    body = client.post(UPSERT, json={"inputs": _inputs(2, start=2)}).json()
    assert all("objectWriteTraceId" not in r for r in body["results"])


def test_invalid_values_with_trace_ids_give_207_per_input_when_configured(app, client):
    app.configure(batch_error_mode="per_input_207_with_trace_id")
    response = client.post(UPSERT, json={"inputs": _bad_batch(trace=True)})
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 4
    assert len(body["results"]) == 2
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert set(by_trace) == {"bad-0", "bad-1", "bad-2", "bad-3"}
    assert all(e["category"] == "VALIDATION_ERROR" for e in body["errors"])
    assert "INVALID_EMAIL" in by_trace["bad-0"]["message"]
    assert "not-an-email" in by_trace["bad-0"]["message"]
    assert by_trace["bad-1"]["context"]["propertyName"] == ["favourite_colour"]
    assert "READ_ONLY_VALUE" in by_trace["bad-2"]["message"]
    assert "HOT" in by_trace["bad-3"]["message"]
    assert by_trace["bad-3"]["context"]["ids"] == ["b3@acme.com"]
    assert sorted(o["properties"]["email"] for o in app.objects("contacts")) == [
        "u0@acme.com",
        "u1@acme.com",
    ]


def test_invalid_values_without_trace_ids_fail_the_whole_batch(app, client):
    response = client.post(UPSERT, json={"inputs": _bad_batch(trace=False)})
    assert response.status_code == 400
    body = response.json()
    assert {"status", "message", "correlationId", "category"} <= set(body)
    assert body["category"] == "VALIDATION_ERROR"
    for value in ("not-an-email", "favourite_colour", "hs_object_id", "HOT"):
        assert value in body["message"]
    assert app.objects("contacts") == []


@pytest.mark.parametrize(
    ("mode", "trace", "status"),
    [
        ("whole_batch_400", True, 400),
        ("per_input_207_with_trace_id", False, 207),
    ],
)
def test_batch_error_mode_overrides_auto(make_sandbox, mode, trace, status):
    _app, client = make_sandbox(batch_error_mode=mode)
    assert client.post(UPSERT, json={"inputs": _bad_batch(trace=trace)}).status_code == status


def test_more_than_100_inputs_is_400(client):
    response = client.post(UPSERT, json={"inputs": _inputs(101)})
    assert response.status_code == 400
    assert response.json()["message"] == "Batch input size must be <= 100"


def test_two_inputs_for_one_record_reject_the_batch(app, client):
    inputs = _inputs(2)
    inputs[1]["id"] = "U0@ACME.com"
    response = client.post(UPSERT, json={"inputs": inputs})
    assert response.status_code == 400
    assert "u0@acme.com" in response.json()["message"]
    assert app.objects("contacts") == []


def test_non_unique_id_properties_are_refused(client):
    by_id = client.post(
        UPSERT, json={"inputs": [{"idProperty": "hs_object_id", "id": "1", "properties": {}}]}
    )
    assert by_id.status_code == 400
    assert "non-unique 0-1 property hs_object_id" in by_id.json()["message"]
    update = client.post(
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"idProperty": "email", "id": "a@acme.com", "properties": {"firstname": "A"}}
            ]
        },
    )
    assert update.status_code == 400
    assert (
        "Unable to perform update/upsert by non-unique 0-1 property email"
        in update.json()["message"]
    )


def test_company_upsert_by_domain_needs_a_unique_property(make_sandbox):
    body = {"inputs": [{"idProperty": "domain", "id": "acme.com", "properties": {"name": "Acme"}}]}
    _app, strict = make_sandbox()
    assert strict.post("/crm/v3/objects/companies/batch/upsert", json=body).status_code == 400
    app, lenient = make_sandbox(unique_properties={"companies": ["domain"]})
    assert lenient.post("/crm/v3/objects/companies/batch/upsert", json=body).status_code == 200
    again = lenient.post("/crm/v3/objects/companies/batch/upsert", json=body).json()
    assert again["results"][0]["new"] is False
    assert len(app.objects("companies")) == 1


def test_batch_create_with_existing_email_is_409_for_the_whole_request(app, client):
    [existing] = app.seed_objects("contacts", [{"email": "taken@acme.com"}])
    response = client.post(
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "fresh@acme.com"}},
                {"properties": {"email": "taken@acme.com"}},
            ]
        },
    )
    assert response.status_code == 409
    assert response.json()["message"] == f"Contact already exists. Existing ID: {existing}"
    assert len(app.objects("contacts")) == 1
    ok = client.post(
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": "fresh@acme.com"}, "objectWriteTraceId": "t1"}]},
    )
    assert ok.status_code == 201
    assert ok.json()["results"][0]["properties"]["email"] == "fresh@acme.com"


def test_batch_read_by_email_reports_missing_ids_with_207(app, client):
    app.seed_objects("contacts", [{"email": "r1@acme.com", "firstname": "R"}])
    response = client.post(
        "/crm/v3/objects/contacts/batch/read",
        json={
            "idProperty": "email",
            "inputs": [{"id": "r1@acme.com"}, {"id": "ghost@acme.com"}],
            "properties": ["email", "firstname"],
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["properties"]["firstname"] == "R"
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["ghost@acme.com"]
    history = client.post(
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(51)], "propertiesWithHistory": ["email"]},
    )
    assert history.status_code == 400
    assert history.json()["message"].startswith(
        "The maximum number of inputs supported in a batch request for property histories is 50."
    )


def test_batch_update_and_archive(app, client):
    ids = app.seed_objects("contacts", [{"email": "m1@acme.com"}, {"email": "m2@acme.com"}])
    response = client.post(
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": ids[0], "properties": {"jobtitle": "VP"}},
                {"id": "424242", "properties": {"jobtitle": "VP"}},
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["results"][0]["properties"]["jobtitle"] == "VP"
    assert response.json()["errors"][0]["context"]["ids"] == ["424242"]
    archive = client.post(
        "/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": ids[1]}]}
    )
    assert archive.status_code == 204
    assert [o["id"] for o in app.objects("contacts")] == [ids[0]]


# --- search -------------------------------------------------------------------------------

SEARCH = "/crm/v3/objects/contacts/search"


def _filter(name, op, **kw):
    return {
        "filterGroups": [{"filters": [{"propertyName": name, "operator": op, **kw}]}],
        "limit": 100,
    }


def _emails(client, body):
    response = client.post(SEARCH, json=body)
    assert response.status_code == 200, response.text
    return sorted(r["properties"]["email"] for r in response.json()["results"])


def test_search_operators(make_sandbox):
    app, client = make_sandbox(search_per_second=1000)
    app.seed_objects(
        "contacts",
        [
            {
                "email": "a@acme.com",
                "firstname": "Ann",
                "annualrevenue": "10",
                "lifecyclestage": "lead",
            },
            {"email": "b@acme.com", "firstname": "Bob", "lifecyclestage": "customer"},
            {"email": "c@other.io", "firstname": "Cy", "jobtitle": "CTO"},
        ],
    )
    assert _emails(client, _filter("email", "EQ", value="A@acme.com")) == ["a@acme.com"]
    assert _emails(client, _filter("lifecyclestage", "NEQ", value="lead")) == [
        "b@acme.com",
        "c@other.io",
    ]
    assert _emails(client, _filter("lifecyclestage", "IN", values=["lead", "customer"])) == [
        "a@acme.com",
        "b@acme.com",
    ]
    assert _emails(client, _filter("lifecyclestage", "NOT_IN", values=["lead"])) == [
        "b@acme.com",
        "c@other.io",
    ]
    assert _emails(client, _filter("jobtitle", "HAS_PROPERTY")) == ["c@other.io"]
    assert _emails(client, _filter("jobtitle", "NOT_HAS_PROPERTY")) == ["a@acme.com", "b@acme.com"]
    assert _emails(client, _filter("email", "CONTAINS_TOKEN", value="*@acme.com")) == [
        "a@acme.com",
        "b@acme.com",
    ]
    ids = sorted(int(o["id"]) for o in app.objects("contacts"))
    assert _emails(client, _filter("hs_object_id", "GT", value=str(ids[0]))) == [
        "b@acme.com",
        "c@other.io",
    ]
    assert _emails(client, _filter("hs_object_id", "LTE", value=str(ids[1]))) == [
        "a@acme.com",
        "b@acme.com",
    ]
    either = {
        "filterGroups": [
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "ann"}]},
            {"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "CTO"}]},
        ]
    }
    assert _emails(client, either) == ["a@acme.com", "c@other.io"]
    ordered = client.post(
        SEARCH, json={"sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}]}
    ).json()
    assert [r["properties"]["firstname"] for r in ordered["results"]] == ["Cy", "Bob", "Ann"]
    assert {"createdate", "hs_object_id", "lastmodifieddate"} <= set(
        ordered["results"][0]["properties"]
    )


def test_search_limits(make_sandbox):
    _app, client = make_sandbox(search_per_second=1000)
    assert client.post(SEARCH, json={"limit": 201}).status_code == 400
    groups = [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6
    assert client.post(SEARCH, json={"filterGroups": groups}).status_code == 400
    wide = [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}]
    assert client.post(SEARCH, json={"filterGroups": wide}).status_code == 400
    bad_op = _filter("email", "LIKE", value="x")
    assert client.post(SEARCH, json=bad_op).status_code == 400


def test_search_pages_by_offset_and_stops_at_10000(make_sandbox):
    app, client = make_sandbox(search_per_second=10_000)
    app.seed_objects("contacts", [{"email": f"s{i}@acme.com"} for i in range(10_050)])
    first = client.post(SEARCH, json={"limit": 200}).json()
    assert first["total"] == 10_050
    assert first["paging"]["next"]["after"] == "200"
    last_ok = client.post(SEARCH, json={"limit": 200, "after": "9800"}).json()
    assert len(last_ok["results"]) == 200
    assert last_ok["paging"]["next"]["after"] == "10000"
    beyond = client.post(SEARCH, json={"limit": 200, "after": "10000"})
    assert beyond.status_code == 400
    assert beyond.json()["category"] == "VALIDATION_ERROR"


def test_search_is_eventually_consistent_when_configured(make_sandbox):
    app, client = make_sandbox(search_lag_ms=60_000)
    client.post("/crm/v3/objects/contacts", json={"properties": {"email": "new@acme.com"}})
    assert client.post(SEARCH, json={}).json()["total"] == 0
    app.configure(search_lag_ms=0)
    assert len(app.objects("contacts")) == 1
