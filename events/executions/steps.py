"""What each step kind does, through integrations.registry.client_for. One call per
attempt (the engine counts attempts); returns the step's output, stored on its row."""

from __future__ import annotations

from typing import Any

from events.senders import _raise_failures
from integrations.models import Connection
from integrations.registry import client_for

STEP_KINDS = ("slack_message", "clay_table", "wait_callback", "hubspot_update", "slack_reply")
REQUIRED = {
    "slack_message": ("connection", "channel", "text"),
    "slack_reply": ("connection", "channel", "text", "thread_of"),
    "clay_table": ("connection", "row"),
    "wait_callback": ("timeout_seconds",),
    "hubspot_update": ("connection", "object_type", "object_id", "properties"),
}


def _client(spec: dict[str, Any]) -> Any:
    return client_for(Connection.objects.get(name=spec["connection"]), max_attempts=1)


def step_run(
    *,
    kind: str,
    spec: dict[str, Any],
    step_input: dict[str, Any],
    context: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    client = _client(spec)
    try:
        if kind in ("slack_message", "slack_reply"):
            thread_ts = None
            if kind == "slack_reply":
                thread_ts = context.get(f"{spec['thread_of']}.ts")
                if not thread_ts:
                    raise ValueError(f"step {spec['thread_of']} has no Slack ts to reply under")
            answer = client.post_message(
                step_input["channel"], step_input["text"], thread_ts=thread_ts
            )
            return {"ts": answer.get("ts"), "channel": answer.get("channel")}
        if kind == "clay_table":
            client.row_send(step_input["row"], idempotency_key=key)
            return {"sent": True}
        if kind == "hubspot_update":
            # A finding Clay did not return renders empty; HubSpot would clear the property
            # with it, so an empty value is left out instead (docs/events.md, "Chains").
            properties = {k: v for k, v in step_input["properties"].items() if v not in ("", None)}
            result = client.batch_update(
                step_input["object_type"],
                [
                    {
                        "id": step_input["object_id"],
                        "properties": properties,
                        "objectWriteTraceId": key,
                    }
                ],
            )
            _raise_failures(result)
            return {"id": step_input["object_id"], "properties": properties}
    finally:
        client.close()
    raise ValueError(f"unknown step kind {kind!r}")
