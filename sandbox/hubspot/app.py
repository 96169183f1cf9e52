"""HubSpotSandbox: the WSGI application and the inspection/seeding API tests use.

Request pipeline for CRM calls: latency → auth (401) → scopes (403) → rate limits (429)
→ injected fault → handler → rate-limit headers. One lock guards all state; sleeps
(latency, timeouts) happen outside it so concurrent callers overlap like real ones.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from . import control
from .config import SandboxConfig, draw_fault
from .errors import ApiError, correlation_id, error_body
from .http import Reply, Request, status_line
from .oauth import ALL_SCOPES, OAuthState
from .ratelimit import RateLimits, rate_limit_body
from .routes import required_scopes, resolve
from .schema import OBJECT_TYPE_IDS, validate_properties
from .store import CrmStore

StartResponse = Callable[..., Any]


class ConnectionDropped(Exception):
    """Raised by a ``timeout_mode="drop"`` fault; the threaded server closes the socket
    without answering. Under httpx.WSGITransport it surfaces as this exception."""


class _Principal:
    def __init__(self, key: str, oauth: bool, scopes: frozenset[str] | set[str]) -> None:
        self.key, self.oauth, self.scopes = key, oauth, scopes


class HubSpotSandbox:
    """A HubSpot CRM v3 test double; the instance is the WSGI app. See docs/sandbox.md."""

    def __init__(
        self,
        *,
        rate_limit: int = 190,
        window_seconds: float = 10,
        search_per_second: int = 5,
        daily_limit: int | None = 1_000_000,
        latency_ms: float = 0,
        fault_rates: dict[str, float] | None = None,
        batch_error_mode: str = "auto",
        tokens: Iterable[str] | None = None,
        missing_scopes: Iterable[str] | None = None,
        oauth_client_id: str = "sandbox-client-id",
        oauth_client_secret: str = "sandbox-client-secret",  # noqa: S107 - fake, test double
        owners: list[dict[str, Any]] | None = None,
        unique_properties: dict[str, list[str]] | None = None,
        seed: int = 0,
        **options: Any,
    ) -> None:
        self.lock = threading.RLock()
        self.config = SandboxConfig()
        self.config.update(
            {
                "rate_limit": rate_limit,
                "window_seconds": window_seconds,
                "search_per_second": search_per_second,
                "daily_limit": daily_limit,
                "latency_ms": latency_ms,
                "fault_rates": fault_rates or {},
                "batch_error_mode": batch_error_mode,
                "tokens": None if tokens is None else set(tokens),
                "missing_scopes": set(missing_scopes or ()),
                **options,
            }
        )
        self._seed = seed
        self.rng = random.Random(seed)
        self.store = CrmStore(owners, unique_properties)
        self.limits = RateLimits(
            rate_limit, window_seconds, search_per_second, daily_limit, self.config.time_zone
        )
        self.oauth = OAuthState(oauth_client_id, oauth_client_secret, self.config.portal_id)
        self.request_log: list[tuple[str, str, int, float]] = []
        self.faults_injected: Counter[str] = Counter()

    # --- public inspection / seeding API ------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change knobs at runtime (same keys as the constructor's config options)."""
        with self.lock:
            self.config.update(changes)
            self.limits.rate_limit = self.config.rate_limit
            self.limits.window_seconds = self.config.window_seconds
            self.limits.search_per_second = self.config.search_per_second
            self.limits.daily_limit = self.config.daily_limit
            self.limits.time_zone = self.config.time_zone

    def set_faults(self, rates: dict[str, float] | None = None, /, **more: float) -> None:
        """Replace the fault rates, e.g. ``set_faults({"429": 0.3})`` or ``set_faults(timeout=0.1)``."""
        self.configure(fault_rates={**(rates or {}), **more})

    def reset(self) -> None:
        """Forget every object, token, counter and log entry; keep the configuration."""
        with self.lock:
            self.store.reset()
            self.limits.reset()
            self.oauth.reset()
            self.request_log.clear()
            self.faults_injected.clear()
            self.rng = random.Random(self._seed)

    def objects(self, object_type: str, *, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every record of a type as ``SimplePublicObject`` dicts with all properties."""
        obj = OBJECT_TYPE_IDS.get(object_type, object_type)
        with self.lock:
            return [
                self.store.render(obj, r, everything=True)
                for r in self.store.records[obj].values()
                if include_archived or not r["archived"]
            ]

    def seed_objects(self, object_type: str, records: list[dict[str, Any]]) -> list[str]:
        """Create records directly (no auth, limits or faults); values are validated."""
        obj = OBJECT_TYPE_IDS.get(object_type, object_type)
        with self.lock:
            ids = []
            for values in records:
                cleaned, problems = validate_properties(
                    self.store.properties[obj], values, self.store.owner_ids()
                )
                if problems:
                    raise ValueError("; ".join(p.message for p in problems))
                ids.append(self.store.create(obj, cleaned)["id"])
            return ids

    def add_owner(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return dict(self.store.add_owner(fields))

    def issue_oauth_code(self, redirect_uri: str, scopes: list[str] | None = None) -> str:
        """An authorization code as if the user had consented on app.hubspot.com."""
        with self.lock:
            return self.oauth.issue_code(redirect_uri, scopes)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "config": self.config.as_json(),
                "objects": self.store.counts(),
                "owners": len(self.store.owners),
                "blocklist": sorted(self.store.blocklist),
                "requests": len(self.request_log),
                "statuses": dict(Counter(str(s) for _m, _p, s, _t in self.request_log)),
                "faultsInjected": dict(self.faults_injected),
                "dailyUsed": self.limits.daily_used,
            }

    def create_record(self, obj: str, values: dict[str, str | None]) -> dict[str, Any]:
        """Used by handlers: create, and hide from search for ``search_lag_ms`` (docs/reference/hubspot.md#search)."""
        rec = self.store.create(obj, values)
        rec["visibleAt"] = time.monotonic() + self.config.search_lag_ms / 1000
        return rec

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, threading.Thread]:
        """Serve this sandbox over HTTP in a daemon thread; see server.serve."""
        from .server import serve

        return serve(self, host, port)

    # --- WSGI -----------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        req = Request.from_environ(environ)
        if req.path.startswith("/__sandbox__/"):
            reply = self._guard(lambda: control.control(self, req))
            return self._send(reply, start_response)
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)
        if req.path.startswith("/oauth/"):
            with self.lock:
                reply = self._guard(
                    lambda: (
                        control.oauth(self, req) or Reply(404, error_body("Not found", "NOT_FOUND"))
                    )
                )
                self._log(req, reply.status)
            return self._send(reply, start_response)
        reply = self._api(req)
        return self._send(reply, start_response)

    def _api(self, req: Request) -> Reply:
        with self.lock:
            principal = self._authenticate(req)
            if isinstance(principal, Reply):
                self._log(req, principal.status)
                return principal
            route, params, known = resolve(req.method, req.path)
            if route is None:
                reply = Reply(
                    405 if known else 404,
                    error_body(
                        f"No route for {req.method} {req.path}",
                        "VALIDATION_ERROR" if known else "OBJECT_NOT_FOUND",
                    ),
                )
                self._log(req, reply.status)
                return reply
            needed = required_scopes(route, params)
            granted = principal.scopes - self.config.missing_scopes
            if needed and not granted.intersection(needed):
                reply = self._missing_scopes(needed)
                self._log(req, reply.status)
                return reply
            now = (
                req.received_monotonic
            )  # counted on arrival, as HubSpot does, not after the latency
            verdict = self.limits.admit(
                principal.key, now, search=route.is_search, daily=not principal.oauth
            )
            headers = self._rate_headers(principal, route.is_search, now)
            if not verdict.allowed:
                reply = self._too_many(
                    verdict.policy or "TEN_SECONDLY_ROLLING", verdict.retry_after, headers
                )
                self._log(req, reply.status)
                return reply
            fault = draw_fault(self.rng, self.config.fault_rates)
            if fault:
                self.faults_injected[fault] += 1
            if fault and fault != "timeout":
                reply = self._fault_reply(fault, headers)
                self._log(req, reply.status)
                return reply
            if fault == "timeout" and not self.config.timeout_after_write:
                pass  # sleep below, outside the lock, without applying the request
            else:
                reply = self._guard(lambda: route.handler(self, req, **params))
                reply.headers += self._rate_headers(principal, route.is_search, now)
                if not fault:
                    self._log(req, reply.status)
                    return reply
        # A "timeout" fault: the caller waits, then gets a 504 or a dropped connection.
        time.sleep(self.config.timeout_seconds)
        with self.lock:
            self._log(req, 0 if self.config.timeout_mode == "drop" else 504)
        if self.config.timeout_mode == "drop":
            raise ConnectionDropped(f"{req.method} {req.path}")
        return self._fault_reply("504", [])

    # --- pieces ---------------------------------------------------------------------
    def _authenticate(self, req: Request) -> _Principal | Reply:
        """Bearer tokens (docs/reference/hubspot.md#private-app-tokens): static tokens (any, or the configured set) and OAuth
        access tokens this sandbox issued. OAuth calls share one bucket per app."""
        header = req.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            return Reply(
                401,
                error_body(
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
            )
        issued = self.oauth.access.get(token)
        if issued is not None:
            expired_for = time.time() - issued.expires_at
            if expired_for >= 0:
                return Reply(
                    401,
                    error_body(
                        f"The OAuth token used to make this call expired "
                        f"{math.ceil(expired_for)} second(s) ago.",
                        "EXPIRED_AUTHENTICATION",
                    ),
                )
            return _Principal(f"oauth-app:{issued.client_id}", True, set(issued.scopes))
        allowed = self.config.tokens
        if token in self.oauth.revoked or (allowed is not None and token not in allowed):
            return Reply(
                401,
                error_body(
                    "The access token provided is invalid or has been revoked.",
                    "INVALID_AUTHENTICATION",
                ),
            )
        return _Principal(f"token:{token}", False, ALL_SCOPES)

    def _missing_scopes(self, needed: list[str]) -> Reply:
        return Reply(
            403,
            error_body(
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": needed},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            ),
        )

    def _rate_headers(
        self, principal: _Principal, is_search: bool, now: float
    ) -> list[tuple[str, str]]:
        if is_search and not self.config.search_rate_headers:
            # docs/reference/hubspot.md#rate-limits (third-party source): not returned on search responses
            return []
        return self.limits.headers(principal.key, now, daily=not principal.oauth)

    def _too_many(self, policy: str, retry_after: float, headers: list[tuple[str, str]]) -> Reply:
        headers = list(headers)
        if self.config.retry_after_on_429:
            headers.append(("Retry-After", str(max(1, math.ceil(retry_after)))))
        return Reply(429, rate_limit_body(policy, correlation_id(), correlation_id()), headers)

    def _fault_reply(self, fault: str, headers: list[tuple[str, str]]) -> Reply:
        """Injected failures; gateway errors come back as HTML like a CDN would send."""
        if fault == "429":
            return self._too_many("TEN_SECONDLY_ROLLING", self.config.window_seconds, headers)
        if fault == "423":
            return Reply(
                423,
                error_body(
                    "The resource is locked. Include a delay of at least 2 seconds and retry.",
                    "LOCKED",
                ),
                headers,
            )
        if fault == "477":
            return Reply(
                477,
                error_body("Migration in progress.", "MIGRATION_IN_PROGRESS"),
                [*headers, ("Retry-After", "2")],
            )
        if fault in ("502", "504"):
            html = f"<html><body><h1>{status_line(int(fault))}</h1></body></html>".encode()
            return Reply(int(fault), raw=html, content_type="text/html")
        message = {"500": "internal error", "503": "Service Unavailable"}[fault]
        return Reply(int(fault), error_body(message, "INTERNAL_ERROR"), headers)

    @staticmethod
    def _guard(action: Callable[[], Reply]) -> Reply:
        try:
            return action()
        except ApiError as exc:
            return Reply(
                exc.status, copy.deepcopy(exc.body), list(exc.headers), exc.raw, exc.content_type
            )

    def _log(self, req: Request, status: int) -> None:
        self.request_log.append((req.method, req.path, status, req.received_at))

    @staticmethod
    def _send(reply: Reply, start_response: StartResponse) -> list[bytes]:
        payload = reply.payload()
        headers = [("X-HubSpot-Correlation-Id", correlation_id()), *reply.headers]
        if payload:
            headers.append(("Content-Type", reply.content_type))
        headers.append(("Content-Length", str(len(payload))))
        start_response(status_line(reply.status), headers)
        return [payload]
