"""Slack: incoming webhook posts and ``chat.postMessage`` (docs/reference/slack.md#incoming-webhooks, #chatpostmessage).

Slack answers most Web API errors with HTTP 200 and ``{"ok": false, "error": ...}`` (docs/reference/slack.md#chatpostmessage), so
the parser reads the body on every status. An incoming-webhook URL *is* the credential: it is
the client's base URL, and the request log only ever sees "/services/{webhook}".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx

from integrations.errors import (
    AuthFailed,
    MissingScope,
    ProviderError,
    RateLimited,
    RequestRejected,
    ServerError,
)
from integrations.provider_client import ProviderClient
from integrations.transport import (
    ClientConfig,
    classify_response,
    json_or_none,
    parse_retry_after,
)

DEFAULT_BASE_URL = "https://slack.com/api"
MAX_BLOCKS = 50  # docs/reference/slack.md#chatpostmessage
MAX_TEXT = 40_000  # docs/reference/slack.md#chatpostmessage: truncated beyond this
_AUTH = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "invalid_token",
}
_RETRYABLE = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "rollup_error",
}
# The destination is gone: disable it and alert, do not retry (docs/reference/slack.md#incoming-webhooks).
_GONE = {
    "channel_not_found",
    "channel_is_archived",
    "is_archived",
    "no_service",
    "action_prohibited",
}


def slack_error(
    code: str, status: int, response: httpx.Response, body: dict[str, Any]
) -> ProviderError:
    where = f"Slack {response.request.method} -> {status} {code}"
    if code in ("ratelimited", "rate_limited") or status == 429:
        # docs/reference/slack.md#chatpostmessage: "HTTP 429 with Retry-After in seconds"; 1 message/s is the documented pace.
        return RateLimited(
            where,
            retry_after=parse_retry_after(response.headers) or 1.0,
            status=status,
            category=code,
        )
    if code in _AUTH:
        return AuthFailed(where, status=status, category=code)
    if code == "missing_scope":
        needed = body.get("needed") or "chat:write"
        return MissingScope(f"{where}: needs {needed}", scope=needed, status=status, category=code)
    if code in _RETRYABLE or status >= 500:
        return ServerError(where, status=status, category=code)
    return RequestRejected(
        where, status=status, category=code, context={"disable_destination": code in _GONE}
    )


def _parse_api(response: httpx.Response) -> ProviderError | None:
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    if response.status_code < 400 and body.get("ok") is True:
        return None
    if response.status_code < 400 and "ok" not in body:
        return RequestRejected(
            f"Slack -> {response.status_code}: not a Slack API answer", status=response.status_code
        )
    code = str(body.get("error") or "")
    if not code:
        return classify_response(response, "Slack")
    return slack_error(code, response.status_code, response, body)


def _parse_webhook(response: httpx.Response) -> ProviderError | None:
    if response.status_code < 400:
        return None
    # plain-text error (docs/reference/slack.md#incoming-webhooks)
    code = response.text.strip()[:64] or str(response.status_code)
    return slack_error(code, response.status_code, response, {})


def _payload(text: str, blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
    if blocks and len(blocks) > MAX_BLOCKS:
        raise ValueError(f"Slack allows at most {MAX_BLOCKS} blocks")
    body: dict[str, Any] = {"text": text[:MAX_TEXT]}  # fallback text, even with blocks
    if blocks:
        body["blocks"] = blocks
    return body


class SlackWebhookClient(ProviderClient):
    """Posts to one incoming webhook; ``config.base_url`` is the full hooks.slack.com URL."""

    provider = "Slack webhook"

    def __init__(self, config: ClientConfig, auth: Any = None, **options: Any) -> None:
        url = httpx.URL(config.base_url)
        self._path = url.path
        origin = dataclasses.replace(config, base_url=f"{url.scheme}://{url.netloc.decode()}")
        super().__init__(origin, auth, extra_secrets=[url.path, config.base_url], **options)

    def error_parser(self) -> Callable[[httpx.Response], ProviderError | None]:
        return _parse_webhook  # plain-text error codes with their HTTP statuses

    def post(self, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        # The path is the credential: sent as raw_path, logged as the template.
        self.http.request(
            "POST",
            "/services/{webhook}",
            raw_path=self._path,
            json=_payload(text, blocks),
            idempotent=False,
        )

    def ping(self) -> bool:
        """Test connection without posting: Slack answers a payload without text with 400
        ``no_text`` (or ``invalid_payload``) when the webhook exists, 403/404 when it does not
        (https://api.slack.com/messaging/webhooks#handling_errors)."""
        response = self.http.request(
            "POST", "/services/{webhook}", raw_path=self._path, json={}, accept=(400,)
        )
        if response.status_code == 400 and response.text.strip() not in {
            "no_text",
            "invalid_payload",
            "missing_text_or_fallback_or_attachments",
        }:
            raise RequestRejected(f"Slack webhook -> 400 {response.text.strip()[:64]}", status=400)
        return True


class SlackClient(ProviderClient):
    """``chat.postMessage`` with a bot token (``BearerAuth("xoxb-...")``, scope chat:write)."""

    provider = "Slack"

    def error_parser(self) -> Callable[[httpx.Response], ProviderError | None]:
        return _parse_api  # Slack answers 200 with ok:false; the body decides

    def post_message(
        self,
        channel: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        body = {"channel": channel, **_payload(text, blocks)}
        if thread_ts:
            body["thread_ts"] = thread_ts
        # A resend after a lost answer would post the message twice.
        response = self.http.request(
            "POST", "/chat.postMessage", json=body, headers=_JSON, idempotent=False
        )
        return json_or_none(response) or {}

    def open_dm(self, user_id: str) -> str:
        """The id (``D…``) of the app's direct-message conversation with one user
        (``conversations.open``; scope im:write). Opening an open one returns the same id."""
        response = self.http.request(
            "POST", "/conversations.open", json={"users": user_id}, headers=_JSON
        )
        return str(((json_or_none(response) or {}).get("channel") or {}).get("id") or "")

    def ping(self) -> dict[str, Any]:
        """``auth.test``: which workspace and bot the token belongs to; no scope needed."""
        response = self.http.request("POST", "/auth.test")
        return json_or_none(response) or {}


# Slack reads JSON bodies only with this exact type; without the charset it adds a
# "missing_charset" warning to the answer (docs/connections.md, Slack).
_JSON = {"Content-Type": "application/json; charset=utf-8"}
