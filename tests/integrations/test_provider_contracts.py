"""Contract tests: each client built the way production builds it (``registry.client_for`` on a
connection with no base URL) sends exactly the URL, method, auth header and body the
provider documents (docs/connections.md). A wrong default base URL fails here."""

from __future__ import annotations

import json

import httpx
import pytest

from integrations import registry
from integrations.connection_checks import connection_test
from integrations.models import AuthType, Provider
from tests.integrations.conftest import Calls, mock
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SLACK_TOKEN = "xoxb-1111-2222-contract-token"
APOLLO_KEY = "apollo-contract-key-0123"


def _serve(monkeypatch, provider: str, answer, calls: Calls) -> None:
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, provider, mock(answer, calls))


def _only(calls: Calls) -> httpx.Request:
    assert len(calls) == 1, [str(r.url) for r in calls.requests]
    return calls.requests[0]


# -- Slack Web API: https://slack.com/api/<method>, Bearer bot token, JSON body -------------


@pytest.fixture
def slack_bot():
    return ConnectionFactory(
        name="slack-bot", provider=Provider.SLACK, auth_type=AuthType.BEARER, base_url="",
        token=SLACK_TOKEN,
    )  # fmt: skip


def test_slack_post_message_goes_to_the_web_api_path(monkeypatch, slack_bot):
    calls = Calls()
    answer = {"ok": True, "channel": "C024BE91L", "ts": "1417671948.000006"}
    _serve(monkeypatch, "slack", lambda r: httpx.Response(200, json=answer), calls)
    with registry.client_for(slack_bot) as client:
        assert client.post_message("C024BE91L", "New MQL")["ts"] == "1417671948.000006"
    request = _only(calls)
    assert request.method == "POST"
    assert str(request.url) == "https://slack.com/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == {"channel": "C024BE91L", "text": "New MQL"}


def test_slack_test_connection_calls_auth_test(monkeypatch, slack_bot):
    calls = Calls()
    answer = {"ok": True, "team_id": "T1", "user_id": "U1", "bot_id": "B1"}
    _serve(monkeypatch, "slack", lambda r: httpx.Response(200, json=answer), calls)
    assert connection_test(connection_id=slack_bot.pk).ok
    request = _only(calls)
    assert (request.method, str(request.url)) == ("POST", "https://slack.com/api/auth.test")
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"


def test_slack_open_dm_calls_conversations_open(monkeypatch, slack_bot):
    calls = Calls()
    answer = {"ok": True, "channel": {"id": "D0123"}}
    _serve(monkeypatch, "slack", lambda r: httpx.Response(200, json=answer), calls)
    with registry.client_for(slack_bot) as client:
        assert client.open_dm("U0123") == "D0123"
    request = _only(calls)
    assert str(request.url) == "https://slack.com/api/conversations.open"
    assert json.loads(request.content) == {"users": "U0123"}


def test_slack_incoming_webhook_posts_to_the_hook_url_itself(monkeypatch):
    url = "https://hooks.slack.com/services/T000/B000/XXXXCONTRACTXXXX"
    hook = ConnectionFactory(
        name="slack-hook", provider=Provider.SLACK, auth_type=AuthType.WEBHOOK_URL, base_url="",
        token=url,
    )  # fmt: skip
    calls = Calls()
    _serve(monkeypatch, "slack", lambda r: httpx.Response(200, text="ok"), calls)
    with registry.client_for(hook) as client:
        client.post("Run 7: 40 synced")
    request = _only(calls)
    assert (request.method, str(request.url)) == ("POST", url)
    assert "Authorization" not in request.headers  # the URL is the credential
    assert json.loads(request.content) == {"text": "Run 7: 40 synced"}


# -- Apollo: https://api.apollo.io/api/v1/<path>, x-api-key, JSON --------------------------


@pytest.fixture
def apollo():
    return ConnectionFactory(
        name="apollo-main", provider=Provider.APOLLO, auth_type=AuthType.API_KEY, base_url="",
        token=APOLLO_KEY,
    )  # fmt: skip


def _apollo_headers(request: httpx.Request) -> None:
    assert request.headers["x-api-key"] == APOLLO_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Cache-Control"] == "no-cache"


def test_apollo_test_connection_calls_auth_health_under_api_v1(monkeypatch, apollo):
    calls = Calls()
    _serve(monkeypatch, "apollo", lambda r: httpx.Response(200, json={"is_logged_in": True}), calls)
    assert connection_test(connection_id=apollo.pk).ok
    request = _only(calls)
    assert (request.method, str(request.url)) == ("GET", "https://api.apollo.io/api/v1/auth/health")
    _apollo_headers(request)


def test_apollo_people_match_contract(monkeypatch, apollo):
    calls = Calls()
    _serve(
        monkeypatch, "apollo", lambda r: httpx.Response(200, json={"person": {"id": "p1"}}), calls
    )
    with registry.client_for(apollo) as client:
        assert client.match_person(email="ada@example.com")["id"] == "p1"
    request = _only(calls)
    assert (request.method, str(request.url)) == (
        "POST",
        "https://api.apollo.io/api/v1/people/match",
    )
    _apollo_headers(request)
    assert json.loads(request.content) == {"email": "ada@example.com"}


def test_apollo_organization_enrich_contract(monkeypatch, apollo):
    calls = Calls()
    answer = {"organization": {"name": "Acme"}}
    _serve(monkeypatch, "apollo", lambda r: httpx.Response(200, json=answer), calls)
    with registry.client_for(apollo) as client:
        assert client.enrich_organization("www.acme.com")["name"] == "Acme"
    request = _only(calls)
    assert (request.method, str(request.url)) == (
        "GET",
        "https://api.apollo.io/api/v1/organizations/enrich?domain=acme.com",
    )
    _apollo_headers(request)


def test_apollo_people_search_contract(monkeypatch, apollo):
    calls = Calls()
    answer = {"people": [{"id": "p1"}], "pagination": {"page": 1, "total_pages": 1}}
    _serve(monkeypatch, "apollo", lambda r: httpx.Response(200, json=answer), calls)
    with registry.client_for(apollo) as client:
        assert [p["id"] for p in client.search_people(person_titles=["cto"])] == ["p1"]
    request = _only(calls)
    assert (request.method, str(request.url)) == (
        "POST",
        "https://api.apollo.io/api/v1/mixed_people/api_search",
    )
    _apollo_headers(request)
    assert json.loads(request.content) == {"person_titles": ["cto"], "page": 1, "per_page": 100}


# -- HubSpot: https://api.hubapi.com/crm/v3/..., Bearer private-app token ------------------


def test_hubspot_upsert_contract(monkeypatch):
    hubspot = ConnectionFactory(name="hubspot-contract", base_url="")
    calls = Calls()
    answer = {"status": "COMPLETE", "results": [{"id": "512", "new": True, "properties": {}}]}
    _serve(monkeypatch, "hubspot", lambda r: httpx.Response(200, json=answer), calls)
    with registry.client_for(hubspot) as client:
        client.batch_upsert(
            "contacts",
            [{"id": "ada@example.com", "properties": {"email": "ada@example.com"},
              "objectWriteTraceId": "17"}],
        )  # fmt: skip
    request = _only(calls)
    assert (request.method, str(request.url)) == (
        "POST",
        "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert",
    )
    assert request.headers["Authorization"] == f"Bearer {hubspot.token}"
    assert json.loads(request.content) == {
        "inputs": [
            {"id": "ada@example.com", "idProperty": "email", "objectWriteTraceId": "17",
             "properties": {"email": "ada@example.com"}},
        ]
    }  # fmt: skip
