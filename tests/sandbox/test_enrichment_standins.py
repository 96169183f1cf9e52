"""The Apollo, BuiltWith and Clearbit stand-ins, driven through the product's own clients
(integrations.registry.client_for), so a wrong default base URL or path cannot hide."""

from __future__ import annotations

import httpx
import pytest

from integrations import registry
from integrations.clearbit.client import LookupPending
from integrations.errors import AuthFailed, RateLimited, RequestRejected, ServerError
from integrations.models import Connection
from sandbox.apollo import ApolloSandbox
from sandbox.builtwith import BuiltWithSandbox
from sandbox.clearbit import ClearbitSandbox

pytestmark = pytest.mark.django_db


def connect(monkeypatch, provider: str, app, **fields) -> object:
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, provider, httpx.WSGITransport(app=app))
    connection = Connection.objects.create(
        name=f"{provider}-test",
        provider=provider,
        auth_type="api_key" if provider != "clearbit" else "bearer",
        max_attempts=1,
        **fields,
    )
    connection.token = "key-123"
    connection.save()
    return registry.client_for(connection, max_retry_wait=0)


def test_apollo_bulk_enrich_at_the_default_base_counts_credits_and_sends_window_headers(
    monkeypatch,
):
    app = ApolloSandbox(limits={"minute": 50, "hour": 200, "day": 600})
    client = connect(monkeypatch, "apollo", app)
    found = client.bulk_enrich_organizations(["https://www.acme.com", "unknown-co.com"])
    assert list(found) == ["acme.com"]  # the unknown one is a no-match, not an error
    assert app.credits_used == 1  # one credit per organization found
    assert app.request_log[-1][1] == "/api/v1/organizations/bulk_enrich"
    with pytest.raises(ValueError, match="1 to 10 domains"):
        client.bulk_enrich_organizations([f"d{i}.com" for i in range(11)])


def test_apollo_bulk_window_is_a_tenth_of_the_single_one_and_429_names_the_window(monkeypatch):
    app = ApolloSandbox(limits={"minute": 20, "hour": 1000, "day": 5000})
    client = connect(monkeypatch, "apollo", app)
    client.bulk_enrich_organizations(["a.com"])
    client.bulk_enrich_organizations(["b.com"])
    with pytest.raises(RateLimited) as limited:
        client.bulk_enrich_organizations(["c.com"])
    assert limited.value.policy == "MINUTE"
    assert app.credits_used == 2  # the refused call spent nothing


def test_apollo_people_search_is_free_and_bulk_match_reveals_emails(monkeypatch):
    app = ApolloSandbox()
    client = connect(monkeypatch, "apollo", app)
    people = list(
        client.search_people(
            q_organization_domains_list=["acme.com"], person_seniorities=["vp", "c_suite"]
        )
    )
    assert {p["title"] for p in people} == {"Chief Executive Officer", "VP of Sales"}
    assert all("email" not in p for p in people)
    assert app.credits_used == 0
    matches = client.bulk_match_people([{"id": p["id"]} for p in people])
    assert all(m["email"].endswith("@acme.com") for m in matches)
    assert app.credits_used == 2


def test_apollo_rejects_a_wrong_key(monkeypatch):
    client = connect(monkeypatch, "apollo", ApolloSandbox(keys={"other"}))
    with pytest.raises(AuthFailed):
        client.enrich_organization("acme.com")


def test_builtwith_lookup_of_16_domains_with_per_domain_errors(monkeypatch):
    app = BuiltWithSandbox()
    client = connect(monkeypatch, "builtwith", app)
    answer = client.lookup([f"site{i}.com" for i in range(15)] + ["unknown-x.com"])
    assert len(answer["Results"]) == 15
    assert answer["Errors"][0]["Lookup"] == "unknown-x.com"
    first = answer["Results"][0]["Result"]
    assert first["Paths"][0]["Technologies"]
    assert "Spend" in first
    with pytest.raises(ValueError, match="1 to 16 domains"):
        client.lookup([f"d{i}.com" for i in range(17)])
    assert "KEY=key-123" not in str(app.request_log)  # the log keeps paths only


def test_clearbit_queues_then_answers_and_404_is_no_data(monkeypatch):
    app = ClearbitSandbox(pending_lookups=1)
    client = connect(monkeypatch, "clearbit", app)
    with pytest.raises(LookupPending):
        client.company("acme.com")
    assert client.company("acme.com")["metrics"]["employees"] > 0
    assert client.company("unknown-co.com") is None


def test_an_outage_switch_answers_every_call_until_lifted(monkeypatch):
    app = ClearbitSandbox(pending_lookups=0)
    client = connect(monkeypatch, "clearbit", app)
    app.fail(503)
    for _ in range(2):
        with pytest.raises(ServerError):
            client.company("acme.com")
    app.fail(None)
    assert client.company("acme.com")["domain"] == "acme.com"


def test_hubspot_sandbox_property_groups(sandbox, monkeypatch):
    connection = Connection.objects.create(name="hs", provider="hubspot", auth_type="private_app")
    connection.token = "pat-1"
    connection.save()
    client = registry.client_for(connection)
    assert "companyinformation" in {g["name"] for g in client.property_groups("companies")}
    with pytest.raises(RequestRejected, match="VALIDATION_ERROR"):
        client.create_property(
            "companies",
            {
                "name": "switchyard_x",
                "label": "X",
                "type": "number",
                "fieldType": "number",
                "groupName": "switchyard",
            },
        )
    client.create_property_group("companies", name="switchyard", label="Switchyard")
    made = client.create_property(
        "companies",
        {
            "name": "switchyard_x",
            "label": "X",
            "type": "number",
            "fieldType": "number",
            "groupName": "switchyard",
        },
    )
    assert made["groupName"] == "switchyard"
