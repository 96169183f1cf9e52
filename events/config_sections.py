"""The `events:` section of `manage.py config apply|export`: subscriptions (trigger +
subscribers) and multi-step workflows. Checked against a declared schema; every error names
the line and the key. Apply is idempotent; subscriptions absent from the file are kept.

    events:
      subscriptions:
        - name: deal-won-fanout
          trigger: {source: hubspot-main, object: deal, property: dealstage, to: closedwon}
          subscribers:
            - {name: sales-channel, kind: slack, connection: slack-main, channel: "#sales",
               text: "Deal {dealname} won: {amount}"}
      workflows:
        - name: lead-alert
          trigger: high-value-lead          # a subscription's name
          steps:
            - {name: alert, kind: slack_message, connection: slack-main, channel: "#leads", text: "..."}
"""

from __future__ import annotations

from typing import Any

from events.executions.steps import REQUIRED as STEP_REQUIRED
from events.executions.steps import STEP_KINDS
from events.models import (
    Subscriber,
    SubscriberKind,
    Subscription,
    TriggerCondition,
    WorkflowDefinition,
)
from events.models.hub import ConditionOperator
from events.payloads import REQUIRED_OPTIONS
from integrations.config_sections import ConfigError
from integrations.models import Connection
from pipelines.configuration import Section, section_register

_TOP = {"subscriptions", "workflows", "__line__"}
_SUBSCRIPTION = {"name", "enabled", "trigger", "subscribers", "__line__"}
_TRIGGER = {"source", "type", "object", "property", "from", "to", "conditions", "__line__"}
_CONDITION = {"field", "op", "value", "__line__"}
_SUBSCRIBER_BASE = {"name", "kind", "connection", "ordered", "retry_schedule", "__line__"}
_KIND_OPTIONS = {
    "slack": {"channel", "text"},
    "clay_table": set(),
    "http": {"path"},
    "hubspot_task": {"subject", "body"},
    "hubspot_note": {"body"},
    "hubspot_property": {"property", "value"},
    "hubspot_record": {"record_type", "properties"},
    "warehouse": {"table"},
}
_KIND_PROVIDER = {
    "slack": "slack",
    "clay_table": "clay",
    "http": "http",
    "hubspot_task": "hubspot",
    "hubspot_note": "hubspot",
    "hubspot_property": "hubspot",
    "hubspot_record": "hubspot",
    "warehouse": "warehouse",
}
_WORKFLOW = {"name", "trigger", "steps", "__line__"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _mapping(value: Any, where: str, line: int | None, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(line, f"{where} must be a mapping")
    unknown = set(value) - allowed
    if unknown:
        raise ConfigError(
            value.get("__line__", line), f"{where}: unknown key(s) {', '.join(sorted(unknown))}"
        )
    return value


def _connection(name: Any, where: str, line: int | None, provider: str | None) -> str:
    connection = Connection.objects.filter(name=str(name or "")).first()
    if connection is None:
        raise ConfigError(line, f"{where}.connection: no connection named {name!r}")
    if provider and connection.provider != provider:
        raise ConfigError(
            line,
            f"{where}.connection: {name} is a {connection.provider} connection, {provider} needed",
        )
    return connection.name


def events_validate(data: Any) -> dict:
    section = _mapping(data, "events", None, _TOP)
    subscriptions = section.get("subscriptions") or []
    if not isinstance(subscriptions, list):
        raise ConfigError(section.get("__line__"), "events.subscriptions must be a list")
    plans, seen = [], set()
    for index, item in enumerate(subscriptions):
        plans.append(_subscription_validate(item, f"events.subscriptions[{index}]", seen))
    workflows = section.get("workflows") or []
    if not isinstance(workflows, list):
        raise ConfigError(section.get("__line__"), "events.workflows must be a list")
    names = seen | set(Subscription.objects.values_list("name", flat=True))
    flows = [
        _workflow_validate(w, f"events.workflows[{i}]", names) for i, w in enumerate(workflows)
    ]
    return {"subscriptions": plans, "workflows": flows}


def _subscription_validate(item: Any, where: str, seen: set[str]) -> dict:
    item = _mapping(item, where, None, _SUBSCRIPTION)
    line = item.get("__line__")
    name = str(item.get("name") or "").strip()
    if not name or name in seen:
        raise ConfigError(line, f"{where}.name is required and must be unique")
    seen.add(name)
    trigger = _mapping(item.get("trigger") or {}, f"{where}.trigger", line, _TRIGGER)
    source = str(trigger.get("source") or "")
    if source and source != "internal":
        _connection(source, f"{where}.trigger.source", trigger.get("__line__", line), None)
    conditions = []
    for c_index, condition in enumerate(trigger.get("conditions") or []):
        c_where = f"{where}.trigger.conditions[{c_index}]"
        condition = _mapping(condition, c_where, line, _CONDITION)
        if condition.get("op") not in ConditionOperator.values or not condition.get("field"):
            raise ConfigError(
                condition.get("__line__", line),
                f"{c_where}: needs field and op (one of {', '.join(ConditionOperator.values)})",
            )
        conditions.append(
            (str(condition["field"]), condition["op"], str(condition.get("value", "")))
        )
    subscribers, names = [], set()
    raw = item.get("subscribers") or []
    if not isinstance(raw, list):
        raise ConfigError(line, f"{where}.subscribers must be a list")
    for s_index, subscriber in enumerate(raw):
        subscribers.append(
            _subscriber_validate(subscriber, f"{where}.subscribers[{s_index}]", names)
        )
    return {
        "name": name,
        "enabled": bool(item.get("enabled", True)),
        "trigger": {
            "source": source,
            "event_type": str(trigger.get("type") or ""),
            "object_type": str(trigger.get("object") or ""),
            "property_name": str(trigger.get("property") or ""),
            "from_value": str(trigger.get("from") or ""),
            "to_value": str(trigger.get("to") or ""),
        },
        "conditions": conditions,
        "subscribers": subscribers,
    }


def _subscriber_validate(item: Any, where: str, names: set[str]) -> dict:
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind not in SubscriberKind.values:
        raise ConfigError(
            item.get("__line__") if isinstance(item, dict) else None,
            f"{where}.kind must be one of {', '.join(SubscriberKind.values)}",
        )
    item = _mapping(item, where, None, _SUBSCRIBER_BASE | _KIND_OPTIONS[kind])
    line = item.get("__line__")
    name = str(item.get("name") or "").strip()
    if not name or name in names:
        raise ConfigError(line, f"{where}.name is required and unique within the subscription")
    names.add(name)
    missing = [key for key in REQUIRED_OPTIONS[kind] if not item.get(key)]
    if missing:
        raise ConfigError(line, f"{where}: {kind} needs {', '.join(missing)}")
    options = {k: _clean(v) for k, v in item.items() if k in _KIND_OPTIONS[kind]}
    schedule = item.get("retry_schedule")
    if schedule is not None:
        if not isinstance(schedule, list) or not all(
            isinstance(s, int) and s >= 0 for s in schedule
        ):
            raise ConfigError(line, f"{where}.retry_schedule must be a list of whole seconds")
        options["retry_schedule"] = schedule
    return {
        "name": name,
        "kind": kind,
        "connection": _connection(item.get("connection"), where, line, _KIND_PROVIDER[kind]),
        "ordered": bool(item.get("ordered", True)),
        "options": options,
    }


def _workflow_validate(item: Any, where: str, subscriptions: set[str]) -> dict:
    item = _mapping(item, where, None, _WORKFLOW)
    line = item.get("__line__")
    name = str(item.get("name") or "").strip()
    if not name:
        raise ConfigError(line, f"{where}.name is required")
    trigger = str(item.get("trigger") or "")
    if trigger and trigger not in subscriptions:
        raise ConfigError(line, f"{where}.trigger: no subscription named {trigger!r}")
    steps, step_names = [], set()
    for index, step in enumerate(item.get("steps") or []):
        s_where = f"{where}.steps[{index}]"
        if not isinstance(step, dict) or step.get("kind") not in STEP_KINDS:
            raise ConfigError(
                step.get("__line__", line) if isinstance(step, dict) else line,
                f"{s_where}.kind must be one of {', '.join(STEP_KINDS)}",
            )
        s_line = step.get("__line__", line)
        missing = [k for k in STEP_REQUIRED[step["kind"]] if not step.get(k)]
        if missing or not step.get("name") or step["name"] in step_names:
            raise ConfigError(
                s_line, f"{s_where}: needs a unique name and {', '.join(missing) or 'nothing else'}"
            )
        if step.get("connection"):
            _connection(step["connection"], s_where, s_line, None)
        if step.get("thread_of") and step["thread_of"] not in step_names:
            raise ConfigError(s_line, f"{s_where}.thread_of: no earlier step {step['thread_of']!r}")
        step_names.add(step["name"])
        steps.append(_clean(step))
    if not steps:
        raise ConfigError(line, f"{where}.steps: at least one step")
    return {"name": name, "trigger": trigger, "steps": steps}


def events_apply(plans: dict, *, actor_label: str) -> list[str]:
    changes = []
    for plan in plans["subscriptions"]:
        changes += _subscription_apply(plan)
    for plan in plans["workflows"]:
        latest = WorkflowDefinition.objects.filter(name=plan["name"]).order_by("-version").first()
        if (
            latest
            and latest.steps == plan["steps"]
            and latest.trigger_subscription == plan["trigger"]
        ):
            continue
        version = (latest.version + 1) if latest else 1
        WorkflowDefinition.objects.create(
            name=plan["name"],
            version=version,
            trigger_subscription=plan["trigger"],
            steps=plan["steps"],
        )
        changes.append(f"workflow {plan['name']}: version {version}")
    return changes


def _subscription_apply(plan: dict) -> list[str]:
    changes = []
    subscription = Subscription.objects.filter(name=plan["name"]).first()
    wanted = {"enabled": plan["enabled"], **plan["trigger"]}
    if subscription is None:
        subscription = Subscription.objects.create(name=plan["name"], **wanted)
        changes.append(f"subscription {plan['name']}: created")
    elif any(getattr(subscription, k) != v for k, v in wanted.items()):
        Subscription.objects.filter(pk=subscription.pk).update(**wanted)
        changes.append(f"subscription {plan['name']}: trigger updated")
    current = [(c.field, c.operator, c.value) for c in subscription.conditions.all()]
    if current != plan["conditions"]:
        subscription.conditions.all().delete()
        TriggerCondition.objects.bulk_create(
            TriggerCondition(subscription=subscription, field=f, operator=o, value=v)
            for f, o, v in plan["conditions"]
        )
        changes.append(f"subscription {plan['name']}: conditions updated")
    for item in plan["subscribers"]:
        connection = Connection.objects.get(name=item["connection"])
        fields = {
            "kind": item["kind"],
            "connection": connection,
            "options": item["options"],
            "ordered": item["ordered"],
        }
        existing = Subscriber.objects.filter(subscription=subscription, name=item["name"]).first()
        if existing is None:
            Subscriber.objects.create(subscription=subscription, name=item["name"], **fields)
            changes.append(f"subscriber {plan['name']}/{item['name']}: created")
        elif any(getattr(existing, k) != v for k, v in fields.items()):
            Subscriber.objects.filter(pk=existing.pk).update(**fields)
            changes.append(f"subscriber {plan['name']}/{item['name']}: updated")
    return changes


def events_export() -> dict:
    subscriptions = []
    for subscription in Subscription.objects.prefetch_related(
        "conditions", "subscribers__connection"
    ):
        trigger = {
            key: getattr(subscription, attr)
            for key, attr in (
                ("source", "source"),
                ("type", "event_type"),
                ("object", "object_type"),
                ("property", "property_name"),
                ("from", "from_value"),
                ("to", "to_value"),
            )
            if getattr(subscription, attr)
        }
        conditions = [
            {"field": c.field, "op": c.operator, "value": c.value}
            for c in subscription.conditions.all()
        ]
        if conditions:
            trigger["conditions"] = conditions
        subscribers = [
            {"name": s.name, "kind": s.kind, "connection": s.connection.name, **(s.options or {})}
            | ({} if s.ordered else {"ordered": False})
            for s in subscription.subscribers.all()
        ]
        subscriptions.append(
            {"name": subscription.name, "trigger": trigger, "subscribers": subscribers}
            | ({} if subscription.enabled else {"enabled": False})
        )
    workflows = []
    for name in sorted(set(WorkflowDefinition.objects.values_list("name", flat=True))):
        latest = WorkflowDefinition.objects.filter(name=name).order_by("-version").first()
        workflows.append(
            {"name": name, "trigger": latest.trigger_subscription, "steps": latest.steps}
        )
    return {"subscriptions": subscriptions, "workflows": workflows}


section_register(Section("events", events_validate, events_apply, events_export))
