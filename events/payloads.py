"""What each subscriber kind will send for an event, rendered once at fan-out.

The rendered payload is stored on the delivery, so a dead letter shows (and an admin edits)
exactly what will go out. Pure functions. Facts: docs/events.md ("Subscribers").
"""

from __future__ import annotations

from typing import Any

from events.triggers import template_names, template_render

# Which options of each kind are templates (rendered with the event's fields).
TEMPLATE_OPTIONS: dict[str, tuple[str, ...]] = {
    "slack": ("text",),
    "hubspot_task": ("subject", "body"),
    "hubspot_note": ("body",),
    "hubspot_property": ("value",),
}

# Options each kind needs, checked by config apply and the admin form.
REQUIRED_OPTIONS: dict[str, tuple[str, ...]] = {
    "slack": ("channel", "text"),
    "clay_table": (),
    "http": ("path",),
    "hubspot_task": ("subject",),
    "hubspot_note": ("body",),
    "hubspot_property": ("property", "value"),
    "hubspot_record": ("record_type",),
    "warehouse": ("table",),
}

# HubSpot object type names in the CRM v3 paths.
_PLURAL = {"deal": "deals", "contact": "contacts", "company": "companies", "ticket": "tickets"}


def fields_referenced(kind: str, options: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for option in TEMPLATE_OPTIONS.get(kind, ()):
        names |= template_names(str(options.get(option) or ""))
    for value in (options.get("properties") or {}).values():
        names |= template_names(str(value))
    return names


def payload_render(
    *, kind: str, options: dict[str, Any], event: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """``event`` carries uid, type, object_type, object_id, occurred_at (ISO)."""
    render = _Renderer(fields)
    object_ref = {
        "object_type": _PLURAL.get(event["object_type"], event["object_type"]),
        "object_id": event["object_id"],
    }
    if kind == "slack":
        return {"channel": options["channel"], "text": render(options["text"])}
    if kind == "clay_table":
        row = {k: v for k, v in fields.items() if not isinstance(v, dict | list)}
        return {"row": {**row, "event_id": event["uid"], "event_type": event["type"]}}
    if kind == "http":
        return {
            "path": options["path"],
            "body": {
                "type": event["type"],
                "timestamp": event["occurred_at"],
                "data": {**fields, "event_id": event["uid"]},
            },
        }
    if kind == "hubspot_task":
        properties = {
            "hs_task_subject": render(options["subject"]),
            "hs_task_body": render(options.get("body") or ""),
            "hs_task_status": "NOT_STARTED",
            "hs_timestamp": event["occurred_at"],
        }
        return {"create": "tasks", "properties": properties, "associate": object_ref}
    if kind == "hubspot_note":
        properties = {"hs_note_body": render(options["body"]), "hs_timestamp": event["occurred_at"]}
        return {"create": "notes", "properties": properties, "associate": object_ref}
    if kind == "hubspot_property":
        return {**object_ref, "properties": {options["property"]: render(options["value"])}}
    if kind == "hubspot_record":
        properties = {k: render(str(v)) for k, v in (options.get("properties") or {}).items()}
        return {"create": options["record_type"], "properties": properties, "associate": object_ref}
    if kind == "warehouse":
        return {
            "table": options["table"],
            "row": {
                "event_id": event["uid"],
                "event_type": event["type"],
                "object_type": event["object_type"],
                "object_id": event["object_id"],
                "occurred_at": event["occurred_at"],
                "fields": fields,
            },
        }
    raise ValueError(f"unknown subscriber kind {kind!r}")


class _Renderer:
    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __call__(self, template: str) -> str:
        return template_render(template, self.fields)


# A payload edited field by field (the dead-letter editor, a step's input): its leaves as
# dotted names, and back.


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"body": {"data": {"amount": 5}}}`` → ``{"body.data.amount": 5}``."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def unflatten(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in values.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def typed_value(text: str, original: Any) -> Any:
    """Keep numbers, booleans and lists what they were; an emptied field becomes null."""
    if text == "":
        return "" if isinstance(original, str) else None
    if isinstance(original, bool):
        return text.strip().lower() in ("true", "1", "yes")
    if isinstance(original, int | float) and not isinstance(original, bool):
        try:
            return type(original)(text)
        except ValueError:
            return text
    if isinstance(original, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text
