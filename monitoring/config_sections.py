"""The `alerts:` section of `manage.py config export|apply`:

    alerts:
      - {name: hubspot-auth, severity: critical, kind: auth_failure, connection: hubspot-main,
         notify: {slack: {connection: slack-main, channel: "#revops-alerts"}}}
      - {name: sync-stopped, severity: critical, kind: sync_stopped, workflow: clay-to-hubspot,
         expected_every_minutes: 60, notify: {email: [ops@example.com]}}

Validate names the line and key of the first problem and writes nothing; apply is idempotent
(a rule is matched by name) and returns the changes. Rules not in the file are left alone.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from integrations.config_sections import ConfigError
from integrations.models import Connection, Provider
from monitoring.models import CONNECTION_KINDS, AlertKind, AlertRule, Severity
from pipelines.models import Workflow

_TOP_KEYS = {
    "name",
    "severity",
    "kind",
    "workflow",
    "connection",
    "threshold_percent",
    "expected_every_minutes",
    "failing_minutes",
    "notify",
    "enabled",
    "__line__",
}
_NOTIFY_KEYS = {"slack", "email", "__line__"}
_SLACK_KEYS = {"connection", "channel", "__line__"}


def _fail(line: int | None, where: str, message: str) -> None:
    raise ConfigError(line, f"{where}: {message}")


def _number(item: dict, key: str, where: str, *, low: float, high: float) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        _fail(item.get("__line__"), f"{where}.{key}", f"must be a number from {low:g} to {high:g}")
    return value


def _notify(item: dict, where: str) -> dict[str, Any]:
    line = item.get("__line__")
    notify = item.get("notify") or {}
    if not isinstance(notify, dict):
        _fail(line, f"{where}.notify", "must be a mapping with `slack` and/or `email`")
    line = notify.get("__line__", line)
    if set(notify) - _NOTIFY_KEYS:
        _fail(
            line,
            f"{where}.notify",
            f"unknown key(s) {', '.join(sorted(set(notify) - _NOTIFY_KEYS))}",
        )
    fields: dict[str, Any] = {"slack_connection": None, "slack_channel": "", "email_to": ""}
    slack = notify.get("slack")
    if slack is not None:
        if not isinstance(slack, dict) or set(slack) - _SLACK_KEYS or not slack.get("connection"):
            _fail(line, f"{where}.notify.slack", 'must be {connection: NAME, channel: "#name"}')
        connection = Connection.objects.filter(name=str(slack["connection"])).first()
        if connection is None or connection.provider != Provider.SLACK:
            _fail(
                line,
                f"{where}.notify.slack.connection",
                f"no Slack connection named {slack['connection']!r}",
            )
        fields["slack_connection"] = connection
        fields["slack_channel"] = str(slack.get("channel") or "")
    emails = notify.get("email")
    if emails is not None:
        emails = [emails] if isinstance(emails, str) else emails
        if not isinstance(emails, list) or not emails:
            _fail(line, f"{where}.notify.email", "must be a list of addresses")
        for address in emails:
            try:
                validate_email(str(address))
            except ValidationError:
                _fail(line, f"{where}.notify.email", f"{address!r} is not an email address")
        fields["email_to"] = ", ".join(str(a) for a in emails)
    return fields


def _scope(item: dict, where: str, kind: str) -> dict[str, Any]:
    line = item.get("__line__")
    workflow = connection = None
    if item.get("workflow"):
        if kind in CONNECTION_KINDS:
            _fail(line, f"{where}.workflow", f"a {kind} rule watches a connection, not a workflow")
        workflow = Workflow.objects.filter(slug=str(item["workflow"])).first()
        if workflow is None:
            _fail(
                line,
                f"{where}.workflow",
                f"no workflow {item['workflow']!r} (define it under `workflows:`)",
            )
    if item.get("connection"):
        if kind not in CONNECTION_KINDS:
            _fail(
                line, f"{where}.connection", f"a {kind} rule watches a workflow, not a connection"
            )
        connection = Connection.objects.filter(name=str(item["connection"])).first()
        if connection is None:
            _fail(
                line,
                f"{where}.connection",
                f"no connection {item['connection']!r} (define it under `connections:`)",
            )
    return {"workflow": workflow, "connection": connection}


def alerts_validate(items: Any) -> list[dict]:
    if not isinstance(items, list):
        raise ConfigError(None, "`alerts` must be a list")
    plans, seen = [], set()
    for index, item in enumerate(items):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(None, f"{where} must be a mapping")
        line = item.get("__line__")
        if set(item) - _TOP_KEYS:
            _fail(line, where, f"unknown key(s) {', '.join(sorted(set(item) - _TOP_KEYS))}")
        name = str(item.get("name") or "")
        if not re.fullmatch(r"[-a-zA-Z0-9_]+", name):
            _fail(line, f"{where}.name", "is required (letters, digits, - and _)")
        if name in seen:
            _fail(line, f"{where}.name", f"rule {name!r} appears twice")
        seen.add(name)
        severity, kind = item.get("severity"), item.get("kind")
        if severity not in Severity.values:
            _fail(line, f"{where}.severity", f"must be one of {', '.join(Severity.values)}")
        if kind not in AlertKind.values:
            _fail(line, f"{where}.kind", f"must be one of {', '.join(AlertKind.values)}")
        fields = {
            "severity": severity,
            "kind": kind,
            **_scope(item, where, kind),
            "threshold_percent": _number(item, "threshold_percent", where, low=0, high=100),
            "expected_every_minutes": _number(
                item, "expected_every_minutes", where, low=1, high=60 * 24 * 31
            ),
            "failing_minutes": _number(item, "failing_minutes", where, low=1, high=60 * 24 * 31)
            or 60,
            **_notify(item, where),
            "enabled": bool(item.get("enabled", True)),
        }
        plans.append({"name": name, "fields": fields})
    return plans


def alerts_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    from audit.services import audit_event_record

    changes = []
    for plan in plans:
        rule = AlertRule.objects.filter(name=plan["name"]).first()
        is_new = rule is None
        rule = rule or AlertRule(name=plan["name"])
        diff = {
            key: [None if is_new else str(getattr(rule, key)), str(value)]
            for key, value in plan["fields"].items()
            if is_new or getattr(rule, key) != value
        }
        if not diff:
            continue
        for key, value in plan["fields"].items():
            setattr(rule, key, value)
        rule.save()
        audit_event_record(
            action="alert_rule.created" if is_new else "alert_rule.changed",
            actor_label=actor_label,
            obj=rule,
            changes=diff,
        )
        changes.append(f"alert rule {rule.name}: {'created' if is_new else 'updated'}")
    return changes


def alerts_export() -> list[dict]:
    items = []
    for rule in AlertRule.objects.select_related("workflow", "connection", "slack_connection"):
        item: dict[str, Any] = {"name": rule.name, "severity": rule.severity, "kind": rule.kind}
        if rule.workflow:
            item["workflow"] = rule.workflow.slug
        if rule.connection:
            item["connection"] = rule.connection.name
        for key in ("threshold_percent", "expected_every_minutes"):
            if getattr(rule, key) is not None:
                item[key] = getattr(rule, key)
        if rule.failing_minutes != 60:
            item["failing_minutes"] = rule.failing_minutes
        notify: dict[str, Any] = {}
        if rule.slack_connection:
            notify["slack"] = {
                "connection": rule.slack_connection.name,
                "channel": rule.slack_channel,
            }
        if rule.email_to:
            notify["email"] = [a.strip() for a in rule.email_to.split(",")]
        if notify:
            item["notify"] = notify
        if not rule.enabled:
            item["enabled"] = False
        items.append(item)
    return items


def alerts_section_register() -> None:
    from pipelines.configuration import Section, section_register

    section_register(Section("alerts", alerts_validate, alerts_apply, alerts_export))
