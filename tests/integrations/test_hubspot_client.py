"""HubSpotClient against docs/reference/hubspot.md; HTTP stubbed with httpx.MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations.auth import BearerAuth
from integrations.errors import AuthFailed, MissingScope, RateLimited, ServerError
from integrations.hubspot import BatchRejected, HubSpotClient
from integrations.transport import ClientConfig
from tests.integrations.conftest import mock, sequence

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def client(handler, records, sleeps, calls=None, *, config=None, now=None):
    return HubSpotClient(
        config or ClientConfig(base_url="https://api.hubapi.com"),
        BearerAuth(TOKEN),
        transport=mock(handler, calls),
        on_request=records.append,
        sleep=sleeps.append,
        now=now,
    )


def upsert_inputs(n: int) -> list[dict]:
    return [
        {
            "id": f"person{i}@acme.com",
            "properties": {"email": f"person{i}@acme.com"},
            "objectWriteTraceId": f"rr-{i}",
        }
        for i in range(n)
    ]


# -- rate limits and quirks (docs/reference/hubspot.md#errors, #rate-limits) ---------------------


def test_daily_429_is_not_retried_and_waits_for_the_portal_midnight(records, sleeps, calls):
    body = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c0",
        "policyName": "DAILY",
    }
    config = ClientConfig(base_url="https://api.hubapi.com", timezone="America/New_York")
    # 2025-03-10 22:00 UTC is 18:00 in New York (EDT since 9 March): 6 hours to midnight.
    now = lambda: datetime(2025, 3, 10, 22, 0, tzinfo=UTC)  # noqa: E731
    hub = client(
        lambda r: httpx.Response(429, json=body), records, sleeps, calls, config=config, now=now
    )
    with pytest.raises(RateLimited) as raised:
        hub.batch_upsert("contacts", upsert_inputs(2))
    assert len(calls) == 1
    assert sleeps == []
    assert raised.value.daily
    assert raised.value.policy == "DAILY"
    assert not raised.value.permanent
    assert raised.value.retry_after == 6 * 3600


def test_ten_secondly_429_waits_for_the_window_then_succeeds(records, sleeps):
    limited = httpx.Response(
        429,
        json={
            "status": "error",
            "category": "RATE_LIMITS",
            "message": "You have reached your ten_secondly_rolling limit.",
        },
        headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
    )
    hub = client(
        sequence(limited, httpx.Response(200, json={"status": "COMPLETE", "results": []})),
        records,
        sleeps,
    )
    hub.batch_upsert("contacts", upsert_inputs(1))
    assert sleeps == [10.0]
    assert [r.error_category for r in records] == ["rate_limited", None]


def test_secondly_search_429_waits_one_second(records, sleeps):
    limited = httpx.Response(
        429, json={"message": "You have reached your secondly limit.", "policyName": "SECONDLY"}
    )
    page = httpx.Response(200, json={"total": 0, "results": []})
    assert list(client(sequence(limited, page), records, sleeps).search("contacts")) == []
    assert sleeps == [1.0]


def test_423_locked_waits_at_least_two_seconds(records, sleeps):
    hub = client(
        sequence(httpx.Response(423), httpx.Response(200, json={"results": []})), records, sleeps
    )
    hub.batch_upsert("contacts", upsert_inputs(1))
    assert sleeps == [2.0]


def test_477_honours_retry_after_and_hands_long_waits_to_the_task(records, sleeps, calls):
    short = sequence(
        httpx.Response(477, headers={"Retry-After": "5"}), httpx.Response(200, json={"results": []})
    )
    client(short, records, sleeps).batch_upsert("contacts", upsert_inputs(1))
    assert sleeps == [5.0]
    sleeps.clear()
    hub = client(
        lambda r: httpx.Response(477, headers={"Retry-After": "86400"}), records, sleeps, calls
    )
    with pytest.raises(ServerError) as raised:
        hub.batch_upsert("contacts", upsert_inputs(1))
    assert len(calls) == 1
    assert sleeps == []
    assert raised.value.retry_after == 86400


# -- auth and ping -----------------------------------------------------------------------------


def test_ping_reports_limits(records, sleeps, calls):
    headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "189",
        "X-HubSpot-RateLimit-Daily": "650000",
        "X-HubSpot-RateLimit-Daily-Remaining": "649000",
    }
    result = client(
        lambda r: httpx.Response(200, json={"results": []}, headers=headers), records, sleeps, calls
    ).ping()
    assert result == {
        "ok": True,
        "burst_limit": 190,
        "burst_remaining": 189,
        "daily_limit": 650000,
        "daily_remaining": 649000,
    }
    assert calls.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert records[0].rate_limit_max == 190
    assert (records[0].daily_max, records[0].daily_remaining) == (650000, 649000)


def test_ping_401_is_auth_failed(records, sleeps):
    body = {
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
    }
    with pytest.raises(AuthFailed) as raised:
        client(lambda r: httpx.Response(401, json=body), records, sleeps).ping()
    assert raised.value.permanent
    assert raised.value.category == "INVALID_AUTHENTICATION"
    assert TOKEN not in str(raised.value)


def test_ping_403_names_the_missing_scope(records, sleeps):
    # Body shape: the Error schema of docs/reference/hubspot.md#errors, with the scopes in errors[].context (str → [str]).
    body = {
        "status": "error",
        "category": "MISSING_SCOPES",
        "correlationId": "c1",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
            }
        ],
    }
    with pytest.raises(MissingScope) as raised:
        client(lambda r: httpx.Response(403, json=body), records, sleeps).ping()
    assert raised.value.scope == "crm.objects.contacts.read"
    assert "crm.objects.contacts.read" in str(raised.value)
    assert raised.value.permanent


# -- batches (docs/reference/hubspot.md#batch-endpoints) -------------------------------------------


def test_more_than_100_inputs_are_refused_before_sending(records, sleeps, calls):
    hub = client(lambda r: httpx.Response(200), records, sleeps, calls)
    for method in (hub.batch_upsert, hub.batch_create, hub.batch_update):
        with pytest.raises(ValueError, match="at most 100"):
            method("contacts", upsert_inputs(101))
    with pytest.raises(ValueError, match="at most 100"):
        hub.batch_read("contacts", [str(i) for i in range(101)], properties=["email"])
    assert len(calls) == 0


def test_upsert_refuses_duplicate_keys_and_hs_object_id(records, sleeps):
    hub = client(lambda r: httpx.Response(200), records, sleeps)
    with pytest.raises(ValueError, match="duplicate"):
        hub.batch_upsert(
            "contacts", [{"id": "A@x.com", "properties": {}}, {"id": "a@x.com", "properties": {}}]
        )
    with pytest.raises(ValueError, match="hs_object_id"):
        hub.batch_upsert("companies", [{"id": "1", "properties": {}}], id_property="hs_object_id")
    with pytest.raises(ValueError, match="batch_upsert"):
        hub.batch_update("contacts", [{"id": "a@x.com", "properties": {}}], id_property="email")


def test_upsert_sends_id_property_per_input_and_parses_200(records, sleeps, calls):
    body = {
        "status": "COMPLETE",
        "results": [
            {"id": "11", "new": True, "properties": {"email": "person0@acme.com"}},
            {"id": "12", "new": False, "properties": {"email": "PERSON1@acme.com"}},
        ],
    }
    result = client(lambda r: httpx.Response(200, json=body), records, sleeps, calls).batch_upsert(
        "contacts", upsert_inputs(2)
    )
    sent = calls.json()
    assert calls.requests[0].url.path == "/crm/v3/objects/contacts/batch/upsert"
    assert all(i["idProperty"] == "email" for i in sent["inputs"])
    assert [(s.index, s.object_id, s.new, s.object_write_trace_id) for s in result.succeeded] == [
        (0, "11", True, "rr-0"),
        (1, "12", False, "rr-1"),
    ]
    assert result.ok
    assert result.unaccounted(2) == []


def test_207_multi_status_maps_each_failure_to_its_input(records, sleeps):
    body = {
        "status": "COMPLETE",
        "numErrors": 2,
        "results": [{"id": "21", "new": True, "properties": {"email": "person0@acme.com"}}],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid",
                "context": {"ids": ["person1@acme.com"], "propertyName": ["phone"]},
            },
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "bad date",
                "context": {"objectWriteTraceId": ["rr-2"]},
            },
        ],
    }
    result = client(lambda r: httpx.Response(207, json=body), records, sleeps).batch_upsert(
        "contacts", upsert_inputs(3)
    )
    assert result.http_status == 207
    assert not result.ok
    assert [s.index for s in result.succeeded] == [0]
    failures = {f.index: f for f in result.failed}
    assert set(failures) == {1, 2}
    assert failures[1].category == "VALIDATION_ERROR"
    assert failures[1].object_write_trace_id == "rr-1"
    assert failures[1].context["propertyName"] == ["phone"]
    assert failures[2].object_write_trace_id == "rr-2"
    assert result.unaccounted(3) == []


def test_batch_read_207_reports_missing_ids(records, sleeps, calls):
    body = {
        "status": "COMPLETE",
        "results": [{"id": "5", "properties": {"email": "a@x.com"}}],
        "errors": [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects",
                "context": {"ids": ["b@x.com"]},
            }
        ],
    }
    hub = client(lambda r: httpx.Response(207, json=body), records, sleeps, calls)
    result = hub.batch_read(
        "contacts", ["a@x.com", "b@x.com"], id_property="email", properties=["email"]
    )
    assert calls.json() == {
        "inputs": [{"id": "a@x.com"}, {"id": "b@x.com"}],
        "properties": ["email"],
        "idProperty": "email",
    }
    assert calls.requests[0].url.params["archived"] == "false"
    assert [s.index for s in result.succeeded] == [0]
    assert [(f.index, f.category) for f in result.failed] == [(1, "OBJECT_NOT_FOUND")]


def test_400_invalid_email_rejects_the_batch_and_blames_the_input(records, sleeps, calls):
    detail = [
        {
            "isValid": False,
            "message": "Email address bad@@acme is invalid",
            "error": "INVALID_EMAIL",
            "name": "email",
        }
    ]
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "correlationId": "c2",
        "message": "Property values were not valid: " + json.dumps(detail),
    }
    inputs = upsert_inputs(3)
    inputs[1] = {
        "id": "bad@@acme",
        "properties": {"email": "bad@@acme"},
        "objectWriteTraceId": "rr-1",
    }
    hub = client(lambda r: httpx.Response(400, json=body), records, sleeps, calls)
    with pytest.raises(BatchRejected) as raised:
        hub.batch_upsert("contacts", inputs)
    error = raised.value
    assert len(calls) == 1
    assert error.permanent
    assert error.status == 400
    assert error.input_indexes == [1]
    assert error.invalid[0]["error"] == "INVALID_EMAIL"
    assert "acme" not in str(error)  # the offending value stays in .invalid/.context, out of logs


def test_400_unknown_property_blames_every_input_that_sets_it(records, sleeps):
    detail = [
        {
            "isValid": False,
            "message": 'Property "favourite_color" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": "favourite_color",
        }
    ]
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid: " + json.dumps(detail),
    }
    inputs = upsert_inputs(3)
    inputs[0]["properties"]["favourite_color"] = "blue"
    inputs[2]["properties"]["favourite_color"] = "red"
    with pytest.raises(BatchRejected) as raised:
        client(lambda r: httpx.Response(400, json=body), records, sleeps).batch_upsert(
            "contacts", inputs
        )
    assert raised.value.input_indexes == [0, 2]


def test_400_invalid_option_blames_only_the_bad_value_not_the_allowed_ones_it_lists(
    records, sleeps
):
    detail = [
        {
            "isValid": False,
            "error": "INVALID_OPTION",
            "name": "lifecyclestage",
            "message": "Bogus was not one of the allowed options: [subscriber, lead, marketingqualifiedlead]",
        }
    ]
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid: " + json.dumps(detail),
    }
    inputs = upsert_inputs(3)
    inputs[0]["properties"]["lifecyclestage"] = "lead"  # valid, and named in the options list
    inputs[1]["properties"]["lifecyclestage"] = "Bogus"
    with pytest.raises(BatchRejected) as raised:
        client(lambda r: httpx.Response(400, json=body), records, sleeps).batch_upsert(
            "contacts", inputs
        )
    assert raised.value.input_indexes == [1]


def test_400_duplicate_ids_are_parsed(records, sleeps):
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Duplicate IDs found in batch input: [person2@acme.com]. IDs must be unique",
    }
    with pytest.raises(BatchRejected) as raised:
        client(lambda r: httpx.Response(400, json=body), records, sleeps).batch_upsert(
            "contacts", upsert_inputs(3)
        )
    assert raised.value.input_indexes == [2]
    assert raised.value.ids == ["person2@acme.com"]


def test_409_on_batch_create_carries_the_existing_id(records, sleeps):
    body = {
        "message": "Contact already exists. Existing ID: 2926551",
        "status": "error",
        "category": "OBJECT_ALREADY_EXISTS",
        "error": "CONTACT_EXISTS",
        "errors": [
            {
                "message": "A contact with email person1@acme.com already exists. Existing ID: 2926551",
                "in": "email",
            }
        ],
    }
    inputs = [
        {"properties": {"email": f"person{i}@acme.com"}, "objectWriteTraceId": f"rr-{i}"}
        for i in range(2)
    ]
    with pytest.raises(BatchRejected) as raised:
        client(lambda r: httpx.Response(409, json=body), records, sleeps).batch_create(
            "contacts", inputs
        )
    assert raised.value.existing_id == "2926551"
    assert raised.value.category == "OBJECT_ALREADY_EXISTS"


def test_request_log_has_templates_and_no_secret_or_email(records, sleeps):
    handler = sequence(httpx.Response(502), httpx.Response(200, json={"results": []}))
    client(handler, records, sleeps).batch_upsert("contacts", upsert_inputs(3))
    assert [r.path_template for r in records] == ["/crm/v3/objects/{type}/batch/upsert"] * 2
    assert [r.attempt for r in records] == [1, 2]
    text = repr(records)
    assert "@" not in text
    assert TOKEN not in text
    assert "contacts" not in text
    assert "?" not in text


# -- paging and search (docs/reference/hubspot.md#search, #paging) --------------------------------


def test_list_objects_is_lazy(records, sleeps, calls):
    pages = {
        None: {
            "results": [{"id": "1"}, {"id": "2"}],
            "paging": {"next": {"after": "NTI1Cg%3D%3D"}},
        },
        "NTI1Cg%3D%3D": {"results": [{"id": "3"}]},
    }
    handler = lambda r: httpx.Response(200, json=pages[r.url.params.get("after")])  # noqa: E731
    objects = client(handler, records, sleeps, calls).list_objects("companies", ["name", "domain"])
    assert len(calls) == 0  # a generator: nothing is sent until iterated
    assert next(objects)["id"] == "1"
    assert next(objects)["id"] == "2"
    assert len(calls) == 1  # the second page is not fetched until the caller gets there
    assert [o["id"] for o in objects] == ["3"]
    assert len(calls) == 2
    assert calls.requests[0].url.params["properties"] == "name,domain"
    assert calls.requests[0].url.params["limit"] == "100"


def test_owners_pages_active_then_archived(records, sleeps, calls):
    def handler(request):
        archived = request.url.params["archived"]
        return httpx.Response(
            200, json={"results": [{"id": f"o-{archived}", "archived": archived == "true"}]}
        )

    owners = list(client(handler, records, sleeps, calls).owners())
    assert [o["id"] for o in owners] == ["o-false", "o-true"]
    assert calls.requests[0].url.path == "/crm/v3/owners"


def fake_search(total: int, calls_after: list[int]):
    """A search endpoint over ids 1..total that, like HubSpot, answers 400 past 10,000 results."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        after, limit = int(body.get("after", "0")), body["limit"]
        calls_after.append(after)
        if after + limit > 10_000:
            return httpx.Response(
                400,
                json={
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "paging past 10000",
                },
            )
        assert body["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        floor = 0
        for group in body["filterGroups"]:
            for f in group["filters"]:
                if f["propertyName"] == "hs_object_id" and f["operator"] == "GT":
                    floor = int(f["value"])
        matching = list(range(floor + 1, total + 1))
        page = matching[after : after + limit]
        response = {
            "total": len(matching),
            "results": [{"id": str(i), "properties": {}} for i in page],
        }
        if after + limit < len(matching):
            response["paging"] = {"next": {"after": str(after + limit)}}
        return httpx.Response(200, json=response)

    return handler


def test_search_splits_past_the_10k_cap(records, sleeps):
    afters: list[int] = []
    results = client(fake_search(25_000, afters), records, sleeps).search(
        "contacts", limit=200, properties=["email"]
    )
    ids = [int(r["id"]) for r in results]
    assert ids == list(range(1, 25_001))  # every object once, in order, no 400
    assert max(afters) == 9_800
    assert afters.count(0) == 3


def test_search_adds_the_floor_to_every_filter_group(records, sleeps, calls):
    groups = [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]},
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
    ]
    afters: list[int] = []
    list(
        client(fake_search(10_050, afters), records, sleeps, calls).search(
            "contacts", filter_groups=groups, limit=200
        )
    )
    last = calls.json()
    assert all(
        g["filters"][-1] == {"propertyName": "hs_object_id", "operator": "GT", "value": "10000"}
        for g in last["filterGroups"]
    )
    assert len(last["filterGroups"]) == 2


def test_search_is_lazy_and_validates_filters(records, sleeps, calls):
    afters: list[int] = []
    hub = client(fake_search(500, afters), records, sleeps, calls)
    results = hub.search("contacts", limit=100)
    next(results)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="filters"):
        next(hub.search("contacts", filter_groups=[{"filters": [{}] * 6}]))
    with pytest.raises(ValueError, match="sort"):
        next(
            hub.search(
                "contacts", sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}]
            )
        )


# -- deals, GDPR, properties (docs/reference/hubspot.md#associations, #properties) ----------------


def test_create_deal_associates_contact_and_company(records, sleeps, calls):
    hub = client(lambda r: httpx.Response(201, json={"id": "900"}), records, sleeps, calls)
    assert (
        hub.create_deal({"dealname": "Acme – Q3"}, contact_id="101", company_id="202")["id"]
        == "900"
    )
    sent = calls.json()
    assert calls.requests[0].url.path == "/crm/v3/objects/deals"
    assert [(a["to"]["id"], a["types"][0]["associationTypeId"]) for a in sent["associations"]] == [
        ("101", 3),
        ("202", 341),
    ]
    assert all(
        a["types"][0]["associationCategory"] == "HUBSPOT_DEFINED" for a in sent["associations"]
    )


def test_gdpr_delete_by_email_and_by_id(records, sleeps, calls):
    hub = client(lambda r: httpx.Response(204), records, sleeps, calls)
    hub.gdpr_delete_contact("jane@acme.com")
    hub.gdpr_delete_contact("512")
    assert calls.requests[0].url.path == "/crm/v3/objects/contacts/gdpr-delete"
    assert calls.json(0) == {"objectId": "jane@acme.com", "idProperty": "email"}
    assert calls.json(1) == {"objectId": "512"}


def test_properties_returns_definitions(records, sleeps, calls):
    body = {"results": [{"name": "email", "type": "string"}]}
    assert (
        client(lambda r: httpx.Response(200, json=body), records, sleeps, calls).properties(
            "contacts"
        )
        == body["results"]
    )
    assert calls.requests[0].url.path == "/crm/v3/properties/contacts"
