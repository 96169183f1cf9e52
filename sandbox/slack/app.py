"""SlackSandbox: the WSGI app, and the accessors tests and the demo read messages with.

What it emulates and why (sources in docs/sandbox.md, "Slack stand-in"):

- Web API under ``/api/``: ``chat.postMessage``, ``auth.test``, ``conversations.open``. Errors
  are HTTP 200 with ``{"ok": false, "error": code}``; a rate limit is HTTP 429 with
  ``Retry-After`` (seconds) and ``{"ok": false, "error": "ratelimited"}``.
- Incoming webhooks under ``/services/T…/B…/…``: ``200 ok`` in plain text, errors as
  plain-text codes with their HTTP statuses (400 ``invalid_payload``/``no_text``, 403
  ``action_prohibited``, 404 ``no_service``/``channel_not_found``, 410
  ``channel_is_archived``).
- About one message per second per channel (a token bucket with a short burst).
- Any other path is a 404 HTML page, as slack.com answers a path outside ``/api/``: a client
  with a wrong base URL fails here too.

Control surface (never Slack's): ``GET /`` an HTML page of received messages (the demo),
``GET /__sandbox__/messages[?channel=]``, ``POST /__sandbox__/reset``,
``GET|POST /__sandbox__/config``, ``GET /__sandbox__/state``.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]

TEAM = {"team": "Switchyard Sandbox", "team_id": "T0SANDBOX", "url": "https://sandbox.slack.test/"}
BOT = {"user": "switchyard", "user_id": "U0SANDBOXBOT", "bot_id": "B0SANDBOX"}
MAX_BLOCKS = 50
MAX_TEXT = 40_000
# Plain-text webhook errors and the HTTP status Slack sends each with.
WEBHOOK_ERRORS = {
    "invalid_payload": 400,
    "user_not_found": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "action_prohibited": 403,
    "no_service": 404,
    "channel_not_found": 404,
    "channel_is_archived": 410,
    "rollup_error": 500,
}
_KNOBS = {
    "per_channel_per_second",
    "burst",
    "tokens",
    "missing_scopes",
    "archived_channels",
    "missing_channels",
    "dead_webhooks",
}


class _Reply:
    def __init__(
        self, status: int, body: Any, content_type: str = "application/json", headers=()
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = list(headers)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _ok(**fields: Any) -> _Reply:
    return _Reply(200, {"ok": True, **fields})


def _fail(code: str, **fields: Any) -> _Reply:
    return _Reply(200, {"ok": False, "error": code, **fields})


class SlackSandbox:
    """A Slack test double; the instance is the WSGI app. Thread-safe."""

    def __init__(
        self,
        *,
        per_channel_per_second: float = 1.0,
        burst: int = 3,
        tokens: Iterable[str] | None = None,
        missing_scopes: Iterable[str] = (),
        archived_channels: Iterable[str] = (),
        missing_channels: Iterable[str] = (),
        dead_webhooks: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self.config: dict[str, Any] = {}
        self.configure(
            per_channel_per_second=per_channel_per_second,
            burst=burst,
            tokens=tokens,
            missing_scopes=missing_scopes,
            archived_channels=archived_channels,
            missing_channels=missing_channels,
            dead_webhooks=dead_webhooks or {},
        )
        self.reset()

    # -- what tests and the demo use ---------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change knobs (see ``_KNOBS``); unknown names raise ValueError."""
        unknown = set(changes) - _KNOBS
        if unknown:
            raise ValueError(f"unknown Slack sandbox settings: {', '.join(sorted(unknown))}")
        with self.lock:
            for key, value in changes.items():
                if key == "tokens":
                    value = None if value is None else set(value)
                elif key in ("missing_scopes", "archived_channels", "missing_channels"):
                    value = set(value)
                elif key == "dead_webhooks":
                    value = dict(value)
                    bad = {code for code in value.values() if code not in WEBHOOK_ERRORS}
                    if bad:
                        raise ValueError(f"not a webhook error: {', '.join(sorted(bad))}")
                self.config[key] = value

    def reset(self) -> None:
        """Forget messages, buckets and counters (knobs stay)."""
        with self.lock:
            self._messages: list[dict[str, Any]] = []
            self._buckets: dict[str, tuple[float, float]] = {}
            self.requests: list[dict[str, Any]] = []
            self._ts = 0

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message accepted, oldest first: ``{channel, text, blocks, ts, thread_ts, via}``
        where ``via`` is ``"chat.postMessage"`` or ``"webhook"``."""
        with self.lock:
            found = [m for m in self._messages if channel is None or m["channel"] == channel]
            return json.loads(json.dumps(found))

    def kill_webhook(self, path: str, error: str = "no_service") -> None:
        """Make the webhook at ``/services/…`` answer ``error`` from now on (a revoked hook)."""
        with self.lock:
            self.configure(dead_webhooks={**self.config["dead_webhooks"], path: error})

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO") or "/"
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        request = {
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "content_type": (environ.get("CONTENT_TYPE") or "").split(";")[0].strip(),
            "charset": "charset=" in (environ.get("CONTENT_TYPE") or "").lower(),
            "authorization": environ.get("HTTP_AUTHORIZATION", ""),
            "body": body,
        }
        reply = self._route(request)
        with self.lock:
            self.requests.append({"method": method, "path": path, "status": reply.status})
        headers = [("Content-Type", reply.content_type), *reply.headers]
        start_response(f"{reply.status} {_STATUS_TEXT.get(reply.status, 'Status')}", headers)
        return [reply.encoded()]

    def _route(self, req: dict[str, Any]) -> _Reply:
        path, method = req["path"], req["method"]
        if path.startswith("/__sandbox__/"):
            return self._control(req)
        if path == "/" and method == "GET":
            return _Reply(200, self._page(), "text/html; charset=utf-8")
        if path.startswith("/services/") and method == "POST":
            return self._webhook(req)
        if path.startswith("/api/"):
            return self._web_api(path[len("/api/") :], req)
        return _Reply(404, "<html><body>Not found</body></html>", "text/html; charset=utf-8")

    # -- Web API -----------------------------------------------------------------------------

    def _web_api(self, name: str, req: dict[str, Any]) -> _Reply:
        args = _arguments(req)
        if args is None:
            return _fail("invalid_json")
        token = req["authorization"].removeprefix("Bearer ").strip() or str(args.get("token", ""))
        if not token:
            return _fail("not_authed")
        with self.lock:
            tokens = self.config["tokens"]
        if (tokens is not None and token not in tokens) or not token.startswith(("xoxb-", "xoxp-")):
            return _fail("invalid_auth")
        if name == "auth.test":
            return _ok(**TEAM, **BOT)
        if name == "conversations.open":
            return self._conversations_open(args)
        if name == "chat.postMessage":
            json_body = req["content_type"] == "application/json"
            return self._post_message(args, charset=req["charset"] or not json_body)
        return _fail("unknown_method", req_method=name)

    def _conversations_open(self, args: dict[str, Any]) -> _Reply:
        users = [u for u in str(args.get("users", "")).split(",") if u.strip()]
        if not users and not args.get("channel"):
            return _fail("users_list_not_supplied")
        if users and not all(u.strip().startswith(("U", "W")) for u in users):
            return _fail("user_not_found")
        channel_id = str(args.get("channel") or "D" + "".join(u.strip()[1:] for u in users))
        return _ok(channel={"id": channel_id})

    def _post_message(self, args: dict[str, Any], *, charset: bool = True) -> _Reply:
        with self.lock:
            missing = "chat:write" in self.config["missing_scopes"]
            archived, absent = self.config["archived_channels"], self.config["missing_channels"]
        if missing:
            return _fail("missing_scope", needed="chat:write", provided="")
        channel = str(args.get("channel") or "").strip()
        if not channel or channel in absent:
            return _fail("channel_not_found")
        if channel in archived:
            return _fail("is_archived")
        blocks = args.get("blocks")
        if isinstance(blocks, str):  # a form post carries blocks as a JSON string
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return _fail("invalid_blocks")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS):
            return _fail("invalid_blocks")
        text = str(args.get("text") or "")
        if not text and not blocks:
            return _fail("no_text")
        limited = self._admit(channel)
        if limited is not None:
            return limited
        if channel.startswith(("U", "W")):  # posting to a user id lands in the app's DM
            channel = "D" + channel[1:]
        message = self._store(
            channel, text[:MAX_TEXT], blocks, "chat.postMessage", args.get("thread_ts")
        )
        if not charset:  # Slack answers, but warns, when a JSON body names no charset
            return _ok(
                channel=channel,
                ts=message["ts"],
                warning="missing_charset",
                response_metadata={"warnings": ["missing_charset"]},
            )
        return _ok(
            channel=channel,
            ts=message["ts"],
            message={"type": "message", "text": message["text"], "ts": message["ts"], **BOT},
        )

    # -- incoming webhooks -------------------------------------------------------------------

    def _webhook(self, req: dict[str, Any]) -> _Reply:
        path = req["path"]
        parts = path.strip("/").split("/")
        with self.lock:
            dead = self.config["dead_webhooks"].get(path)
        if len(parts) != 4 or not all(parts[1:]):
            dead = "no_service"  # not a hook URL Slack ever issued
        if dead:
            return _text(dead)
        payload = _webhook_payload(req)
        if payload is None:
            return _text("invalid_payload")
        blocks = payload.get("blocks")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS):
            return _text("invalid_blocks")
        text = str(payload.get("text") or "")
        if not text and not blocks:
            return _text("no_text")
        channel = f"webhook:{parts[2]}"  # the hook's own channel, named by its B… id
        limited = self._admit(channel)
        if limited is not None:
            limited.body, limited.content_type = "rate_limited", "text/plain"
            return limited
        self._store(channel, text[:MAX_TEXT], blocks, "webhook", None)
        return _Reply(200, "ok", "text/plain")

    # -- shared ------------------------------------------------------------------------------

    def _admit(self, channel: str) -> _Reply | None:
        """Token bucket per channel: ``burst`` at once, then ``per_channel_per_second``."""
        with self.lock:
            rate, burst = self.config["per_channel_per_second"], self.config["burst"]
            now = self._clock()
            tokens, last = self._buckets.get(channel, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens < 1:
                wait = max(1, int((1 - tokens) / rate + 0.999))
                self._buckets[channel] = (tokens, now)
                return _Reply(
                    429, {"ok": False, "error": "ratelimited"}, headers=[("Retry-After", str(wait))]
                )
            self._buckets[channel] = (tokens - 1, now)
        return None

    def _store(
        self, channel: str, text: str, blocks: Any, via: str, thread_ts: Any
    ) -> dict[str, Any]:
        with self.lock:
            self._ts += 1
            message = {
                "channel": channel,
                "text": text,
                "blocks": blocks,
                "ts": f"{int(time.time())}.{self._ts:06d}",
                "thread_ts": thread_ts,
                "via": via,
            }
            self._messages.append(message)
            return message

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "config": _jsonable(self.config),
                "messages": len(self._messages),
                "requests": len(self.requests),
            }

    def _control(self, req: dict[str, Any]) -> _Reply:
        action, method = req["path"][len("/__sandbox__/") :].strip("/"), req["method"]
        if action == "messages" and method == "GET":
            channel = parse_qs(req["query"]).get("channel", [None])[0]
            return _Reply(200, {"messages": self.messages(channel)})
        if action == "reset" and method == "POST":
            self.reset()
            return _Reply(200, {"status": "reset"})
        if action == "state" and method == "GET":
            return _Reply(200, self.state())
        if action == "config" and method == "GET":
            return _Reply(200, _jsonable(self.config))
        if action == "config" and method == "POST":
            try:
                changes = json.loads(req["body"] or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of settings")
                self.configure(**changes)
            except (ValueError, TypeError) as exc:
                return _Reply(400, {"ok": False, "error": str(exc)})
            return _Reply(200, _jsonable(self.config))
        return _Reply(404, {"ok": False, "error": "unknown sandbox action"})

    def _page(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(m['channel'])}</td><td>{html.escape(m['via'])}</td>"
            f"<td>{html.escape(m['text'])}</td></tr>"
            for m in reversed(self.messages())
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' "
            "content='5'><title>Slack sandbox</title></head><body><h1>Slack sandbox</h1>"
            "<p>Messages received, newest first (refreshes every 5 s).</p>"
            "<table border='1' cellpadding='4'><tr><th>Channel</th><th>Via</th><th>Text</th></tr>"
            f"{rows or '<tr><td colspan=3>No messages yet.</td></tr>'}</table></body></html>"
        )


def _text(code: str) -> _Reply:
    return _Reply(WEBHOOK_ERRORS[code], code, "text/plain")


def _arguments(req: dict[str, Any]) -> dict[str, Any] | None:
    """Web API arguments: a JSON body or a form body (Slack accepts both), plus the query."""
    args: dict[str, Any] = {k: v[0] for k, v in parse_qs(req["query"]).items()}
    if req["content_type"] == "application/json" and req["body"]:
        try:
            body = json.loads(req["body"])
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        args.update(body)
    elif req["body"]:
        args.update({k: v[0] for k, v in parse_qs(req["body"].decode("utf-8", "replace")).items()})
    return args


def _webhook_payload(req: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON body, or a form body with ``payload=<json>``; None when neither parses."""
    raw: bytes | str = req["body"]
    if req["content_type"] == "application/x-www-form-urlencoded":
        raw = parse_qs(req["body"].decode("utf-8", "replace")).get("payload", [""])[0]
    try:
        payload = json.loads(raw or b"")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()}
