"""HubSpot OAuth 2.0 against the v3 token endpoint (docs/reference/hubspot.md#oauth).

Pure functions: the lead's token storage calls them and persists the TokenSet. v1 is deprecated
on 2027-02-16, so only v3 is used. Refresh from ``expires_at`` (30 min tokens); a 401 on an API
call is "not a valid indicator that a new access token must be retrieved" (docs/reference/hubspot.md#oauth).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from integrations.errors import AuthFailed, ProviderError
from integrations.hubspot.types import TokenSet
from integrations.transport import (
    ClientConfig,
    ProviderHTTP,
    RequestRecord,
    classify_response,
    json_or_none,
)

TOKEN_PATH = "/oauth/v3/token"  # noqa: S105 - an endpoint path, not a secret
API_BASE = "https://api.hubapi.com"
# Grant errors that no retry can fix: the code was used or expired, the refresh token revoked.
_PERMANENT = {
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "BAD_REFRESH_TOKEN",
    "BAD_AUTH_CODE",
    "BAD_CLIENT_ID",
}


def authorize_url(
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    *,
    optional_scopes: list[str] | None = None,
    base: str = "https://app.hubspot.com",
) -> str:
    """The consent URL; scopes are space-separated (docs/reference/hubspot.md#oauth). EU portals: app-eu1.hubspot.com.
    Encoded as HubSpot's own SDK does (``urlencode(..., quote_via=quote)``): a space is
    ``%20``, never ``+`` (docs/connections.md, HubSpot OAuth)."""
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": " ".join(scopes)}
    if optional_scopes:
        params["optional_scope"] = " ".join(optional_scopes)
    params["state"] = state
    return f"{base.rstrip('/')}/oauth/authorize?{urlencode(params, quote_via=quote)}"


def exchange_code(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    *,
    code_verifier: str | None = None,
    base_url: str = API_BASE,
    transport: httpx.BaseTransport | None = None,
    on_request: Callable[[RequestRecord], None] | None = None,
    now: datetime | None = None,
    **transport_options: Any,
) -> TokenSet:
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    return _token_call(
        form,
        base_url,
        transport,
        on_request,
        now,
        secrets=(client_secret, code),
        **transport_options,
    )


def refresh(
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    base_url: str = API_BASE,
    transport: httpx.BaseTransport | None = None,
    on_request: Callable[[RequestRecord], None] | None = None,
    now: datetime | None = None,
    **transport_options: Any,
) -> TokenSet:
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    token = _token_call(
        form,
        base_url,
        transport,
        on_request,
        now,
        secrets=(client_secret, refresh_token),
        **transport_options,
    )
    if token.refresh_token is None:  # HubSpot refresh tokens "do not expire with use"
        token = TokenSet(
            token.access_token,
            refresh_token,
            token.expires_at,
            token.token_type,
            token.scopes,
            token.hub_id,
        )
    return token


def _token_error(response: httpx.Response) -> ProviderError | None:
    if response.status_code < 400:
        return None
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error") or body.get("status") or "")
    if code in _PERMANENT or response.status_code in (400, 401):
        # Retrying a rejected grant cannot help; the admin must reconnect the portal.
        return AuthFailed(
            f"HubSpot OAuth token request rejected ({code or response.status_code})",
            status=response.status_code,
            category=code or None,
        )
    return None  # 429/5xx: the ProviderHTTP's default classification retries them


def _token_call(
    form: dict[str, str],
    base_url: str,
    transport: httpx.BaseTransport | None,
    on_request: Callable[[RequestRecord], None] | None,
    now: datetime | None,
    *,
    secrets: tuple[str, ...],
    **transport_options: Any,
) -> TokenSet:
    def parse(response: httpx.Response) -> ProviderError | None:
        return _token_error(response) or classify_response(response, "HubSpot OAuth")

    config = ClientConfig(base_url=base_url, max_attempts=3)
    with ProviderHTTP(
        config,
        provider="HubSpot OAuth",
        transport=transport,
        on_request=on_request,
        error_parser=parse,
        extra_secrets=secrets,
        **transport_options,
    ) as http:
        # Form-encoded, all parameters in the body (docs/reference/hubspot.md#oauth), never in the query string.
        response = http.request("POST", TOKEN_PATH, data=form)
    body: dict[str, Any] = json_or_none(response) or {}
    if not body.get("access_token"):
        raise AuthFailed(
            "HubSpot OAuth token response had no access_token", status=response.status_code
        )
    issued = now or datetime.now(UTC)
    scopes = body.get("scopes") or body.get("scope") or ()
    if isinstance(scopes, str):
        scopes = scopes.split()
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_at=issued + timedelta(seconds=int(body.get("expires_in") or 1800)),
        token_type=str(body.get("token_type") or "bearer"),
        scopes=tuple(scopes),
        hub_id=body.get("hub_id"),
    )
