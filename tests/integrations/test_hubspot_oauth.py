"""HubSpot OAuth v3 token calls (docs/reference/hubspot.md#oauth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.errors import AuthFailed, ServerError
from integrations.hubspot import oauth
from tests.integrations.conftest import mock

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECRET = "client-secret-abcdef"


def test_authorize_url_uses_space_separated_scopes():
    url = oauth.authorize_url(
        "cid", "https://sy.example/cb", ["oauth", "crm.objects.contacts.read"], "st8"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "app.hubspot.com",
        "/oauth/authorize",
    )
    assert parse_qs(parts.query) == {
        "client_id": ["cid"],
        "redirect_uri": ["https://sy.example/cb"],
        "scope": ["oauth crm.objects.contacts.read"],
        "state": ["st8"],
    }
    assert oauth.authorize_url(
        "c", "r", ["oauth"], "s", base="https://app-eu1.hubspot.com"
    ).startswith("https://app-eu1.hubspot.com/oauth/authorize?")


def test_authorize_url_is_encoded_as_hubspots_sdk_encodes_it():
    # Expected string built by hand from HubSpot's Python SDK, hubspot/utils/oauth.py
    # (urlencode with quote_via=urllib.parse.quote, which urlencode calls with safe=""):
    # spaces %20, ':' %3A, '/' %2F.
    url = oauth.authorize_url(
        "cid", "https://sy.example/cb", ["oauth", "crm.objects.contacts.read"], "st8",
        optional_scopes=["crm.objects.deals.read", "crm.objects.owners.read"],
    )  # fmt: skip
    assert url == (
        "https://app.hubspot.com/oauth/authorize?client_id=cid"
        "&redirect_uri=https%3A%2F%2Fsy.example%2Fcb"
        "&scope=oauth%20crm.objects.contacts.read"
        "&optional_scope=crm.objects.deals.read%20crm.objects.owners.read"
        "&state=st8"
    )
    assert "+" not in url


def test_exchange_code_posts_a_form_to_v3_and_returns_a_token_set(calls):
    answer = {
        "access_token": "at-1",
        "refresh_token": "rt-1",
        "expires_in": 1800,
        "token_type": "bearer",
        "hub_id": 42,
        "scopes": ["oauth"],
    }
    records = []
    tokens = oauth.exchange_code(
        "cid",
        SECRET,
        "https://sy.example/cb",
        "code-9",
        transport=mock(lambda r: httpx.Response(200, json=answer), calls),
        on_request=records.append,
        now=NOW,
    )
    request = calls.requests[0]
    assert request.url == "https://api.hubapi.com/oauth/v3/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "client_id": ["cid"],
        "client_secret": [SECRET],
        "redirect_uri": ["https://sy.example/cb"],
        "code": ["code-9"],
    }
    assert tokens.access_token == "at-1"
    assert tokens.refresh_token == "rt-1"
    assert tokens.hub_id == 42
    assert tokens.expires_at == NOW + timedelta(seconds=1800)
    assert tokens.expires_at.tzinfo is not None
    assert "at-1" not in repr(tokens)
    assert records[0].path_template == "/oauth/v3/token"
    assert SECRET not in repr(records)


def test_refresh_keeps_the_refresh_token_when_none_is_returned(calls):
    answer = {"access_token": "at-2", "expires_in": 1800}
    tokens = oauth.refresh(
        "cid",
        SECRET,
        "rt-1",
        transport=mock(lambda r: httpx.Response(200, json=answer), calls),
        now=NOW,
    )
    assert parse_qs(calls.requests[0].content.decode())["grant_type"] == ["refresh_token"]
    assert tokens.refresh_token == "rt-1"


def test_invalid_grant_is_a_permanent_auth_failure(calls):
    body = {"error": "invalid_grant", "error_description": "refresh token rt-1 is revoked"}
    with pytest.raises(AuthFailed) as raised:
        oauth.refresh(
            "cid", SECRET, "rt-1", transport=mock(lambda r: httpx.Response(400, json=body), calls)
        )
    assert raised.value.permanent
    assert raised.value.category == "invalid_grant"
    assert len(calls) == 1
    assert "rt-1" not in str(raised.value)
    assert SECRET not in str(raised.value)


def test_token_endpoint_5xx_is_retried_then_raised(calls):
    with pytest.raises(ServerError):
        oauth.refresh(
            "cid",
            SECRET,
            "rt-1",
            transport=mock(lambda r: httpx.Response(503), calls),
            sleep=lambda s: None,
        )
    assert len(calls) == 3
