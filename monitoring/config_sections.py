"""The `alerts:` section of `manage.py config export|apply`, declared by AlertItem (the engine
is integrations/config_schema.py):

    alerts:
      - {name: hubspot-auth, severity: critical, kind: auth_failure, connection: hubspot-main,
         notify: {slack: {connection: slack-main, channel: "#revops-alerts"}}}
      - {name: sync-stopped, severity: critical, kind: sync_stopped, workflow: clay-to-hubspot,
         expected_every_minutes: 60, notify: {email: [ops@example.com]}}

The section runs after `connections:` and `workflows:` (pipelines/configuration/sections.py),
so a rule may name what the same file defines. An error names the line and key path of the
first problem and writes nothing; apply is idempotent (a rule is matched by name) and returns
the changes. Rules not in the file are left alone.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from integrations.config_schema import (
    ConfigModel,
    ConfigPathError,
    Name,
    choice,
    config_problem,
    reference,
)
from integrations.models import Connection, Provider
from monitoring.models import CONNECTION_KINDS, AlertKind, AlertRule, Severity
from pipelines.models import Workflow

# A month: longer than that, "expected every" or "failing for" no longer describes an alert.
_MONTH_MINUTES = 60 * 24 * 31
_FAILING_MINUTES_DEFAULT = 60


def _connection_problem(name: str) -> str | None:
    if not Connection.objects.filter(name=name).exists():
        return f"no connection {name!r} (define it under `connections:`)"
    return None


def _slack_connection_problem(name: str) -> str | None:
    connection = Connection.objects.filter(name=name).first()
    if connection is None:
        return f"no Slack connection named {name!r} (define it under `connections:`)"
    if connection.provider != Provider.SLACK:
        return f"no Slack connection named {name!r} (it is a {connection.provider} connection)"
    return None


def _workflow_problem(slug: str) -> str | None:
    if not Workflow.objects.filter(slug=slug).exists():
        return f"no workflow {slug!r} (define it under `workflows:`)"
    return None


def _email_check(address: str) -> str:
    try:
        validate_email(address)
    except ValidationError:
        raise config_problem(f"{address!r} is not an email address") from None
    return address


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class SlackTarget(ConfigModel):
    connection: Annotated[str, reference(_slack_connection_problem)]
    channel: str = ""


class Notify(ConfigModel):
    slack: SlackTarget | None = None
    # one address or a list of them
    email: (
        Annotated[
            list[Annotated[str, AfterValidator(_email_check)]],
            BeforeValidator(_one_or_many),
            Field(min_length=1),
        ]
        | None
    ) = None


class AlertItem(ConfigModel):
    name: Name
    severity: Annotated[str, choice(Severity.values)]
    kind: Annotated[str, choice(AlertKind.values)]
    workflow: Annotated[str, reference(_workflow_problem)] | None = None
    connection: Annotated[str, reference(_connection_problem)] | None = None
    threshold_percent: float | None = Field(default=None, ge=0, le=100)
    expected_every_minutes: int | None = Field(default=None, ge=1, le=_MONTH_MINUTES)
    failing_minutes: int = Field(default=_FAILING_MINUTES_DEFAULT, ge=1, le=_MONTH_MINUTES)
    notify: Notify | None = None
    enabled: bool = True

    @field_validator("workflow")
    @classmethod
    def _workflow_for_workflow_kinds(cls, value: str | None, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value and kind in CONNECTION_KINDS:
            raise config_problem(f"a {kind} rule watches a connection, not a workflow")
        return value

    @field_validator("connection")
    @classmethod
    def _connection_for_connection_kinds(cls, value: str | None, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value and kind is not None and kind not in CONNECTION_KINDS:
            raise config_problem(f"a {kind} rule watches a workflow, not a connection")
        return value


def alerts_plan(items: list[AlertItem]) -> list[dict]:
    plans, seen = [], set()
    for index, item in enumerate(items):
        if item.name in seen:
            raise ConfigPathError((index, "name"), f"rule {item.name!r} appears twice")
        seen.add(item.name)
        notify = item.notify or Notify()
        fields = {
            "severity": item.severity,
            "kind": item.kind,
            "workflow": Workflow.objects.get(slug=item.workflow) if item.workflow else None,
            "connection": Connection.objects.get(name=item.connection) if item.connection else None,
            "threshold_percent": item.threshold_percent,
            "expected_every_minutes": item.expected_every_minutes,
            "failing_minutes": item.failing_minutes,
            "slack_connection": Connection.objects.get(name=notify.slack.connection)
            if notify.slack
            else None,
            "slack_channel": notify.slack.channel if notify.slack else "",
            "email_to": ", ".join(notify.email or []),
            "enabled": item.enabled,
        }
        plans.append({"name": item.name, "fields": fields})
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


def alerts_export() -> list[AlertItem]:
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
        if rule.failing_minutes != _FAILING_MINUTES_DEFAULT:
            item["failing_minutes"] = rule.failing_minutes
        notify: dict[str, Any] = {}
        if rule.slack_connection:
            notify["slack"] = SlackTarget.model_construct(
                connection=rule.slack_connection.name, channel=rule.slack_channel
            )
        if rule.email_to:
            notify["email"] = [a.strip() for a in rule.email_to.split(",")]
        if notify:
            item["notify"] = Notify.model_construct(**notify)
        if not rule.enabled:
            item["enabled"] = False
        items.append(AlertItem.model_construct(**item))
    return items
