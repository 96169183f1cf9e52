"""The stand-in's own surface (never Slack's): an HTML page of received messages for the demo,
and ``/__sandbox__/{messages,reset,state,config}`` for tests and other processes."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .reply import Reply

if TYPE_CHECKING:
    from .app import SlackSandbox


def control(sb: SlackSandbox, req: dict[str, Any]) -> Reply:
    """``/__sandbox__/messages[?channel=]``, ``reset``, ``state``, ``config`` (GET or POST)."""
    action, method = req["path"][len("/__sandbox__/") :].strip("/"), req["method"]
    if action == "messages" and method == "GET":
        channel = parse_qs(req["query"]).get("channel", [None])[0]
        return Reply(200, {"messages": sb.messages(channel)})
    if action == "reset" and method == "POST":
        sb.reset()
        return Reply(200, {"status": "reset"})
    if action == "state" and method == "GET":
        return Reply(200, sb.state())
    if action == "config" and method == "GET":
        return Reply(200, sb.config_json())
    if action == "config" and method == "POST":
        try:
            changes = json.loads(req["body"] or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of settings")
            sb.configure(**changes)
        except (ValueError, TypeError) as exc:
            return Reply(400, {"ok": False, "error": str(exc)})
        return Reply(200, sb.config_json())
    return Reply(404, {"ok": False, "error": "unknown sandbox action"})


def page(sb: SlackSandbox) -> str:
    """Every message received, newest first: what the demo shows at the stand-in's root."""
    rows = "".join(
        f"<tr><td>{html.escape(m['channel'])}</td><td>{html.escape(m['via'])}</td>"
        f"<td>{html.escape(m['text'])}</td></tr>"
        for m in reversed(sb.messages())
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' "
        "content='5'><title>Slack sandbox</title></head><body><h1>Slack sandbox</h1>"
        "<p>Messages received, newest first (refreshes every 5 s).</p>"
        "<table border='1' cellpadding='4'><tr><th>Channel</th><th>Via</th><th>Text</th></tr>"
        f"{rows or '<tr><td colspan=3>No messages yet.</td></tr>'}</table></body></html>"
    )
