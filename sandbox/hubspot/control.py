"""Endpoints outside the CRM API: the OAuth server (docs/reference/hubspot.md#oauth) and the sandbox's own
control surface under ``/__sandbox__/`` (config, reset, state, seed, log)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError, not_found, validation_error
from .http import Reply, Request
from .schema import OBJECT_TYPE_IDS, OBJECT_TYPES

if TYPE_CHECKING:
    from .app import HubSpotSandbox


def oauth(sb: HubSpotSandbox, req: Request) -> Reply | None:
    """Serve /oauth/…; None when the path is not an OAuth one."""
    path, method, ttl = req.path.rstrip("/"), req.method, sb.config.access_token_ttl
    if path == "/oauth/authorize" and method == "GET":
        status, headers = sb.oauth.authorize({k: v[0] for k, v in req.query.items()})
        if status != 302:
            return Reply(400, {"status": "BAD_CLIENT_ID", "message": "unknown client id"})
        return Reply(302, None, list(headers.items()))
    if path in ("/oauth/v3/token", "/oauth/v1/token") and method == "POST":
        status, body = sb.oauth.token(req.form(), ttl)
        return Reply(status, body)
    if path == "/oauth/v3/token/introspect" and method == "POST":
        status, body = sb.oauth.introspect(req.form())
        return Reply(status, body)
    if path == "/oauth/v3/token/revoke" and method == "POST":
        sb.oauth.revoke(req.form().get("token", ""))
        return Reply(200, {})
    if path.startswith("/oauth/v1/access-tokens/") and method == "GET":
        info = sb.oauth.metadata(path.rsplit("/", 1)[-1])
        if info is None:
            raise not_found("Token not found or expired")
        return Reply(200, info)
    if path.startswith("/oauth/v1/refresh-tokens/") and method == "DELETE":
        sb.oauth.revoke(path.rsplit("/", 1)[-1])
        return Reply(204)
    return None


def control(sb: HubSpotSandbox, req: Request) -> Reply:
    """/__sandbox__/{config,reset,state,seed,objects/{type},log,oauth/code}."""
    action, method = req.path[len("/__sandbox__/") :].strip("/"), req.method
    if action == "config" and method == "GET":
        return Reply(200, sb.config.as_json())
    if action == "config" and method == "POST":
        try:
            sb.configure(**req.json_object())
        except (ValueError, TypeError) as exc:
            raise validation_error(str(exc)) from exc
        return Reply(200, sb.config.as_json())
    if action == "reset" and method == "POST":
        sb.reset()
        return Reply(200, {"status": "reset"})
    if action == "state" and method == "GET":
        return Reply(200, sb.state())
    if action == "log" and method == "GET":
        return Reply(
            200,
            {
                "results": [
                    {"method": m, "path": p, "status": s, "timestamp": t}
                    for m, p, s, t in sb.request_log
                ]
            },
        )
    if action == "seed" and method == "POST":
        return Reply(201, _seed(sb, req.json_object()))
    if action == "oauth/code" and method == "POST":
        body = req.json_object()
        code = sb.issue_oauth_code(str(body.get("redirect_uri", "")), body.get("scopes"))
        return Reply(201, {"code": code})
    if action.startswith("objects/") and method == "GET":
        obj = OBJECT_TYPE_IDS.get(action[8:], action[8:])
        if obj not in OBJECT_TYPES:
            raise validation_error(f"Unknown object type {obj}")
        return Reply(200, {"results": sb.objects(obj, include_archived=req.flag("archived"))})
    raise ApiError(404, {"status": "error", "message": f"No control endpoint {method} {req.path}"})


def _seed(sb: HubSpotSandbox, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("owners"):
        out["owners"] = [sb.add_owner(**o)["id"] for o in body["owners"]]
    if body.get("objectType"):
        obj = OBJECT_TYPE_IDS.get(body["objectType"], body["objectType"])
        if obj not in OBJECT_TYPES:
            raise validation_error(f"Unknown object type {obj}")
        try:
            out["ids"] = sb.seed_objects(obj, body.get("records") or [])
        except ValueError as exc:
            raise validation_error(str(exc)) from exc
    return out
