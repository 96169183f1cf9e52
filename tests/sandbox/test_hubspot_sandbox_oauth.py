"""Contract: OAuth 2.0 token exchange, refresh, introspection, expiry (docs/reference/hubspot.md#oauth)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from .conftest import client_for

CLIENT = {"client_id": "cid", "client_secret": "csecret"}
REDIRECT = "https://switchyard.example/oauth/callback"


def _sandbox(make_sandbox, **kwargs):
    return make_sandbox(oauth_client_id="cid", oauth_client_secret="csecret", **kwargs)


def _code(client, scope="crm.objects.contacts.read crm.objects.contacts.write"):
    response = client.get(
        "/oauth/authorize",
        params={"client_id": "cid", "redirect_uri": REDIRECT, "scope": scope, "state": "xyz"},
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert location.geturl().startswith(REDIRECT)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _exchange(client, code):
    return client.post(
        "/oauth/v3/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT},
    )


def test_code_exchange_refresh_and_use(make_sandbox):
    app, client = _sandbox(make_sandbox)
    response = _exchange(client, _code(client))
    assert response.status_code == 200
    token = response.json()
    assert {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "token_use",
        "hub_id",
        "user_id",
        "scopes",
    } <= set(token)
    assert token["expires_in"] == 1800
    assert token["token_type"] == "bearer"
    assert len(token["access_token"]) <= 300
    assert "oauth" in token["scopes"]
    with client_for(app, token=token["access_token"]) as api:
        used = api.get("/crm/v3/objects/contacts")
        assert used.status_code == 200
        # docs/reference/hubspot.md#rate-limits: daily headers are absent for OAuth calls.
        assert "X-HubSpot-RateLimit-Max" in used.headers
        assert "X-HubSpot-RateLimit-Daily" not in used.headers
        # The token carries only the granted scopes.
        assert api.get("/crm/v3/objects/deals").status_code == 403
    refreshed = client.post(
        "/oauth/v3/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **CLIENT},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] == token["refresh_token"]
    assert refreshed.json()["access_token"] != token["access_token"]
    # v1 path answers the same way.
    v1 = client.post(
        "/oauth/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **CLIENT},
    )
    assert v1.status_code == 200


def test_oauth_errors(make_sandbox):
    _app, client = _sandbox(make_sandbox)
    code = _code(client)
    bad_client = client.post(
        "/oauth/v3/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "other",
            "client_secret": "csecret",
        },
    )
    assert bad_client.status_code == 400
    assert bad_client.json()["status"] == "BAD_CLIENT_ID"
    assert _exchange(client, code).status_code == 200
    reused = _exchange(client, code)  # codes are single-use
    assert reused.status_code == 400
    assert reused.json()["status"] == "BAD_AUTH_CODE"
    assert {"message", "correlationId"} <= set(reused.json())
    bad_refresh = client.post(
        "/oauth/v3/token", data={"grant_type": "refresh_token", "refresh_token": "nope", **CLIENT}
    )
    assert bad_refresh.json()["status"] == "BAD_REFRESH_TOKEN"


def test_expiry_introspection_and_revocation(make_sandbox):
    app, client = _sandbox(make_sandbox, access_token_ttl=1)
    token = _exchange(client, app.issue_oauth_code(REDIRECT)).json()
    live = client.post(
        "/oauth/v3/token/introspect", data={"token": token["access_token"], **CLIENT}
    )
    assert live.json()["active"] is True
    assert live.json()["hub_id"] == token["hub_id"]
    meta = client.get(f"/oauth/v1/access-tokens/{token['access_token']}").json()
    assert meta["hub_id"] == token["hub_id"]
    assert "scopes" in meta
    time.sleep(1.05)
    with client_for(app, token=token["access_token"]) as api:
        expired = api.get("/crm/v3/objects/contacts")
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    dead = client.post(
        "/oauth/v3/token/introspect", data={"token": token["access_token"], **CLIENT}
    )
    assert dead.json() == {"active": False}
    assert (
        client.post("/oauth/v3/token/revoke", data={"token": token["refresh_token"]}).status_code
        == 200
    )
    gone = client.post(
        "/oauth/v3/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **CLIENT},
    )
    assert gone.status_code == 400
