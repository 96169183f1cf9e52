"""The `workflows:` section of `manage.py config export|apply` (shape of
integrations/config_sections.py): validate returns plans and raises ConfigError naming the
line; apply is idempotent and returns the changes; a changed mapping is a new version."""

from __future__ import annotations

import re
from typing import Any

from integrations.config_sections import ConfigError
from integrations.models import Connection, Provider
from pipelines.models import Workflow, WorkflowType
from pipelines.selectors import field_mapping_current
from pipelines.services.mappings import (
    field_mapping_rules_check,
    field_mapping_rules_normalize,
    field_mapping_version_create,
)

# Workflow kinds whose items are validated, applied and exported by their own app (company
# enrichment): type → object with validate(item, where, line) -> plan, apply(plan,
# actor_label) -> changes, export() -> items. Registered from those apps' ready().
WORKFLOW_KINDS: dict[str, Any] = {}

_TOP_KEYS = {
    "slug",
    "name",
    "type",
    "source",
    "destination",
    "warehouse",
    "notify",
    "mapping",
    "mx_check",
    "enabled",
    "__line__",
}


def _connection(
    name: Any, *, line: int | None, where: str, providers: set[str]
) -> Connection | None:
    if name in (None, ""):
        return None
    connection = Connection.objects.filter(name=str(name)).first()
    if connection is None:
        raise ConfigError(
            line, f"{where}: no connection named {name!r} (define it under `connections:`)"
        )
    if connection.provider not in providers:
        raise ConfigError(
            line,
            f"{where}: connection {name!r} is a {connection.provider} connection, "
            f"expected {' or '.join(sorted(providers))}",
        )
    return connection


def workflows_validate(items: Any) -> list[dict]:
    if not isinstance(items, list):
        raise ConfigError(None, "`workflows` must be a list")
    plans, seen = [], set()
    for index, item in enumerate(items):
        where = f"workflows[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(None, f"{where} must be a mapping")
        line = item.get("__line__")
        unknown = set(item) - _TOP_KEYS
        if unknown and item.get("type") not in WORKFLOW_KINDS:
            raise ConfigError(line, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        slug = item.get("slug")
        if not slug or not re.fullmatch(r"[-a-zA-Z0-9_]+", str(slug)):
            raise ConfigError(line, f"{where}: `slug` is required (letters, digits, - and _)")
        if slug in seen:
            raise ConfigError(line, f"{where}: workflow {slug!r} appears twice")
        seen.add(slug)
        if item.get("type") in WORKFLOW_KINDS:
            plans.append(
                {"kind": item["type"], **WORKFLOW_KINDS[item["type"]].validate(item, where, line)}
            )
            continue
        kind = item.get("type", WorkflowType.CLAY_HUBSPOT_CONTACTS)
        if kind not in WorkflowType.values:
            raise ConfigError(
                line, f"{where}: type {kind!r} is not one of {', '.join(WorkflowType.values)}"
            )
        destination = item.get("destination")
        if not isinstance(destination, dict):
            raise ConfigError(
                line, f"{where}: `destination` needs {{connection, object, match_on}}"
            )
        dline = destination.get("__line__", line)
        notify = item.get("notify") or {}
        warehouse = item.get("warehouse") or {}
        fields = {
            "name": str(item.get("name", "")),
            "type": kind,
            "source_connection": _connection(
                item.get("source"), line=line, where=f"{where}.source", providers={Provider.CLAY}
            ),
            "destination_connection": _connection(
                destination.get("connection"),
                line=dline,
                where=f"{where}.destination.connection",
                providers={Provider.HUBSPOT},
            ),
            "destination_object": str(destination.get("object", "contacts")),
            "match_on": str(destination.get("match_on", "email")),
            "warehouse_connection": _connection(
                warehouse.get("connection"),
                line=line,
                where=f"{where}.warehouse",
                providers={Provider.WAREHOUSE},
            ),
            "warehouse_table": str(warehouse.get("table", "")),
            "slack_connection": _connection(
                notify.get("slack"),
                line=line,
                where=f"{where}.notify.slack",
                providers={Provider.SLACK},
            ),
            "slack_channel": str(notify.get("channel", "") or ""),
            "mx_check": bool(item.get("mx_check", False)),
            "enabled": bool(item.get("enabled", True)),
        }
        if fields["destination_connection"] is None:
            raise ConfigError(dline, f"{where}.destination.connection is required")
        if fields["warehouse_connection"] is not None and not fields["warehouse_table"]:
            raise ConfigError(
                line, f"{where}.warehouse.table is required with a warehouse connection"
            )
        mapping = item.get("mapping")
        if not isinstance(mapping, list) or not mapping:
            raise ConfigError(
                line,
                f"{where}: `mapping` must be a non-empty list of {{from, to, transforms, required}}",
            )
        for rule_index, rule in enumerate(mapping):
            problems = field_mapping_rules_check(rules=[rule])
            if problems:
                rule_line = rule.get("__line__", line) if isinstance(rule, dict) else line
                raise ConfigError(rule_line, f"{where}.mapping[{rule_index}]: {' '.join(problems)}")
        plans.append(
            {
                "slug": slug,
                "fields": fields,
                "rules": field_mapping_rules_normalize(mapping),
                "line": line,
            }
        )
    return plans


def workflows_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    from audit.services import audit_event_record

    changes = []
    for plan in plans:
        if plan.get("kind") in WORKFLOW_KINDS:
            changes += WORKFLOW_KINDS[plan["kind"]].apply(plan, actor_label=actor_label)
            continue
        workflow = Workflow.objects.filter(slug=plan["slug"]).first()
        is_new = workflow is None
        workflow = workflow or Workflow(slug=plan["slug"])
        diff = {
            k: [str(getattr(workflow, k, None)) if not is_new else None, str(v)]
            for k, v in plan["fields"].items()
            if is_new or getattr(workflow, k) != v
        }
        if diff:
            for key, value in plan["fields"].items():
                setattr(workflow, key, value)
            workflow.save()
            audit_event_record(
                action="workflow.created" if is_new else "workflow.changed",
                actor_label=actor_label,
                obj=workflow,
                changes=diff,
            )
            changes.append(f"workflow {workflow.slug}: {'created' if is_new else 'updated'}")
        current = field_mapping_current(workflow=workflow)
        if current is None or current.rules != plan["rules"]:
            version = field_mapping_version_create(
                workflow=workflow, rules=plan["rules"], actor_label=actor_label, note="config apply"
            )
            changes.append(f"workflow {workflow.slug}: mapping version {version.version}")
    return changes


def workflows_export() -> list[dict]:
    items = []
    for workflow in (
        Workflow.objects.select_related(
            "source_connection",
            "destination_connection",
            "warehouse_connection",
            "slack_connection",
        )
        .exclude(type=WorkflowType.MQL_ROUTING)
        .exclude(type__in=list(WORKFLOW_KINDS))
        .order_by("slug")
    ):
        # Routing workflows are exported, with their rules, by the `routing` section.
        current = field_mapping_current(workflow=workflow)
        item: dict[str, Any] = {"slug": workflow.slug}
        if workflow.name:
            item["name"] = workflow.name
        item["type"] = workflow.type
        item["source"] = workflow.source_connection.name if workflow.source_connection else None
        item["destination"] = {
            "connection": workflow.destination_connection.name,
            "object": workflow.destination_object,
            "match_on": workflow.match_on,
        }
        if workflow.warehouse_connection:
            item["warehouse"] = {
                "connection": workflow.warehouse_connection.name,
                "table": workflow.warehouse_table,
            }
        item["notify"] = {
            "slack": workflow.slack_connection.name if workflow.slack_connection else None
        }
        if workflow.slack_channel:
            item["notify"]["channel"] = workflow.slack_channel
        if workflow.mx_check:
            item["mx_check"] = True
        if not workflow.enabled:
            item["enabled"] = False
        item["mapping"] = current.rules if current else []
        items.append(item)
    for kind in WORKFLOW_KINDS.values():
        items += kind.export()
    return sorted(items, key=lambda i: i["slug"])
