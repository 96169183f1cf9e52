"""OAuth 2.0 as HubSpot runs it (docs/reference/hubspot.md#oauth): authorize (auto-consent), the v3 token
endpoint (v1 path also served), introspection, revocation, and v1 token metadata.

The reference gives paths and the success body (AccessTokenResponse) but not the OAuth error
bodies; the sandbox uses HubSpot's long-standing ``{"status":"BAD_…","message":…}`` form.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .errors import correlation_id

ALL_SCOPES = frozenset(
    {
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.owners.read",
        "crm.schemas.contacts.read",
        "crm.schemas.companies.read",
        "crm.schemas.deals.read",
        "crm.schemas.contacts.write",
        "crm.schemas.companies.write",
        "crm.schemas.deals.write",
    }
)


@dataclass
class AccessToken:
    token: str
    client_id: str
    scopes: list[str]
    expires_at: float
    refresh_token: str


@dataclass
class OAuthState:
    client_id: str
    client_secret: str
    hub_id: int
    user_id: int = 9000001
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.revoked.clear()
        self.codes.clear()
        self.access.clear()
        self.refresh.clear()

    # --- authorize ----------------------------------------------------------------------
    def issue_code(self, redirect_uri: str, scopes: list[str] | None = None) -> str:
        """What the consent screen would hand the app (the sandbox consents for the user)."""
        code = str(uuid.uuid4())
        self.codes[code] = {
            "redirect_uri": redirect_uri,
            "scopes": sorted(set(scopes or ALL_SCOPES) | {"oauth"}),
        }
        return code

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """GET /oauth/authorize → 302 to redirect_uri with code and state."""
        if query.get("client_id") != self.client_id:
            return 400, {}
        code = self.issue_code(query.get("redirect_uri", ""), (query.get("scope") or "").split())
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        sep = "&" if "?" in query.get("redirect_uri", "") else "?"
        return 302, {"Location": query.get("redirect_uri", "") + sep + urlencode(params)}

    # --- token endpoint -----------------------------------------------------------------
    def _error(self, status: str, message: str) -> tuple[int, dict[str, Any]]:
        return 400, {
            "status": status,
            "message": message,
            "correlationId": correlation_id(),
            "requestId": str(uuid.uuid4()),
        }

    def token(self, form: dict[str, str], ttl: int) -> tuple[int, dict[str, Any]]:
        """POST /oauth/v3/token (form-encoded; grant_type authorization_code|refresh_token)."""
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            return self._error("BAD_GRANT_TYPE", f"unsupported grant_type: {grant}")
        if form.get("client_id") != self.client_id:
            return self._error("BAD_CLIENT_ID", "missing or unknown client id")
        if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
            return self._error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if grant == "authorization_code":
            grant_info = self.codes.pop(form.get("code", ""), None)  # codes are single-use
            if grant_info is None:
                return self._error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri") != grant_info["redirect_uri"]:
                return self._error(
                    "BAD_REDIRECT_URI", "redirect_uri does not match initial auth request"
                )
            refresh_token = f"na1-{uuid.uuid4().hex[:4]}-{uuid.uuid4()}"
            self.refresh[refresh_token] = {"scopes": grant_info["scopes"]}
        else:
            refresh_token = form.get("refresh_token", "")
            if refresh_token not in self.refresh:
                return self._error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        scopes = self.refresh[refresh_token]["scopes"]
        # Up to 300 characters (docs/reference/hubspot.md#oauth); 200 here exercises columns sized for real tokens.
        access = "CO" + secrets.token_urlsafe(150)[:198]
        self.access[access] = AccessToken(
            access, self.client_id, scopes, time.time() + ttl, refresh_token
        )
        return 200, {
            "access_token": access,
            "refresh_token": refresh_token,
            "expires_in": ttl,
            "token_type": "bearer",
            "token_use": "access_token",
            "hub_id": self.hub_id,
            "user_id": self.user_id,
            "scopes": scopes,
        }

    def introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST /oauth/v3/token/introspect: RFC 7662 style ``active`` plus HubSpot ids."""
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return self._error("BAD_CLIENT_ID", "missing or unknown client id")
        token = self.access.get(form.get("token", ""))
        if token is None or token.expires_at <= time.time():
            if form.get("token", "") in self.refresh:
                return 200, {
                    "active": True,
                    "token_use": "refresh_token",
                    "client_id": self.client_id,
                    "hub_id": self.hub_id,
                    "user_id": self.user_id,
                    "scopes": self.refresh[form["token"]]["scopes"],
                }
            return 200, {"active": False}
        return 200, {
            "active": True,
            "token_use": "access_token",
            "client_id": self.client_id,
            "hub_id": self.hub_id,
            "user_id": self.user_id,
            "scopes": token.scopes,
            "exp": int(token.expires_at),
            "expires_in": int(token.expires_at - time.time()),
        }

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token (revoking a refresh token kills its access tokens)."""
        if token in self.access:
            del self.access[token]
            self.revoked.add(token)
            return True
        if self.refresh.pop(token, None) is not None:
            for key in [k for k, v in self.access.items() if v.refresh_token == token]:
                del self.access[key]
                self.revoked.add(key)
            return True
        return False

    def metadata(self, token: str) -> dict[str, Any] | None:
        """GET /oauth/v1/access-tokens/{token} (docs/reference/hubspot.md#oauth)."""
        info = self.access.get(token)
        if info is None or info.expires_at <= time.time():
            return None
        return {
            "token": token,
            "user": "sandbox.user@example.com",
            "hub_domain": "sandbox.hubspot.local",
            "scopes": info.scopes,
            "hub_id": self.hub_id,
            "app_id": 1109808,
            "expires_in": int(info.expires_at - time.time()),
            "user_id": self.user_id,
            "token_type": "access",
        }
