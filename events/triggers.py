"""Does an event concern a subscription, and does it pass its filter? Pure functions.

Two questions, answered separately because the per-event invariant counts them apart
(docs/events.md, "Every event adds up"): a subscription *matches* an event when source,
object type and event type agree; a matched subscriber is then *skipped* when the property,
from/to values or a condition rule out the event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]{0,80})\}")


@dataclass(frozen=True)
class EventView:
    source: str
    type: str
    object_type: str
    property_name: str
    property_value: str
    previous_value: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class TriggerSpec:
    source: str
    event_type: str
    object_type: str
    property_name: str
    from_value: str
    to_value: str
    conditions: tuple[Rule, ...]


def trigger_matches(trigger: TriggerSpec, event: EventView) -> bool:
    """Source, object type and event type (each empty = any)."""
    if trigger.source and trigger.source != event.source:
        return False
    if trigger.object_type and trigger.object_type.lower() != event.object_type.lower():
        return False
    if trigger.event_type:
        wanted = trigger.event_type.lower()
        actual = event.type.lower()
        if wanted != actual and not actual.endswith("." + wanted):
            return False
    return True


def trigger_filter_reason(trigger: TriggerSpec, event: EventView) -> str:
    """ "" when the event passes; else why it was skipped (shown on the delivery)."""
    if trigger.property_name and trigger.property_name != event.property_name:
        return f"property {event.property_name or '(none)'} is not {trigger.property_name}"
    if trigger.to_value and _norm(event.property_value) != _norm(trigger.to_value):
        return f"{trigger.property_name or 'value'} changed to {event.property_value!r}, not {trigger.to_value!r}"
    if trigger.from_value and _norm(event.previous_value) != _norm(trigger.from_value):
        return f"previous value {event.previous_value!r} is not {trigger.from_value!r}"
    for rule in trigger.conditions:
        if not condition_holds(rule, event.fields.get(rule.field)):
            return f"condition not met: {rule.field} {rule.operator} {rule.value}".strip()
    return ""


def condition_holds(rule: Rule, actual: Any) -> bool:
    op, wanted = rule.operator, rule.value
    if op == "is_empty":
        return actual in (None, "", [], {})
    if op == "not_empty":
        return actual not in (None, "", [], {})
    if op == "equals":
        return _norm(actual) == _norm(wanted)
    if op == "not_equals":
        return _norm(actual) != _norm(wanted)
    if op == "in":
        return _norm(actual) in {_norm(v) for v in wanted.split(",")}
    if op == "contains":
        return _norm(wanted) in _norm(actual)
    if op in ("gt", "lt"):
        left, right = _number(actual), _number(wanted)
        if left is None or right is None:
            return False
        return left > right if op == "gt" else left < right
    raise ValueError(f"unknown condition operator {op!r}")


def template_render(template: str, fields: dict[str, Any]) -> str:
    """``"Deal {dealname} won: {amount}"`` with the event's fields; unknown names render
    empty. A plain substitution, never str.format: a template cannot reach attributes."""
    return _PLACEHOLDER.sub(lambda m: _text(fields.get(m.group(1))), template)


def template_names(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template or ""))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _norm(value: Any) -> str:
    return _text(value).strip().lower()


def _number(value: Any) -> float | None:
    try:
        return float(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        return None
