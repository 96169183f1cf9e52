"""The `workflows:` section of `manage.py config export|apply`, declared by WorkflowItem:
the plan step adds the checks that span keys (a warehouse needs a table, mapping transforms
exist); apply is idempotent and returns the changes; a changed mapping is a new version."""

from __future__ import annotations

from typing import Annotated, Any

from django.core.exceptions import ValidationError
from pydantic import Field

from integrations.config_schema import (
    ConfigModel,
    ConfigPathError,
    Name,
    choice,
    reference,
)
from integrations.models import Connection, Provider
from integrations.warehouse.tables import warehouse_table_validate
from pipelines.models import Workflow, WorkflowType
from pipelines.selectors import field_mapping_current
from pipelines.services.mappings import (
    field_mapping_rules_check,
    field_mapping_rules_normalize,
    field_mapping_version_create,
)


def _connection_of(*providers: str) -> Any:
    """A cross-reference to a connection (defined under `connections:`) of one of `providers`."""

    def problem(name: str) -> str | None:
        connection = Connection.objects.filter(name=name).first()
        if connection is None:
            return f"no connection named {name!r} (define it under `connections:`)"
        if connection.provider not in providers:
            return (
                f"connection {name!r} is a {connection.provider} connection, "
                f"expected {' or '.join(sorted(providers))}"
            )
        return None

    return reference(problem)


class Destination(ConfigModel):
    connection: Annotated[str, _connection_of(Provider.HUBSPOT)]
    object: str = "contacts"
    match_on: str = "email"


class Warehouse(ConfigModel):
    connection: Annotated[str | None, _connection_of(Provider.WAREHOUSE)] = None
    table: str = ""


class Notify(ConfigModel):
    slack: Annotated[str | None, _connection_of(Provider.SLACK)] = None
    channel: str | None = ""


class MappingRule(ConfigModel):
    from_: str = Field(alias="from")
    to: str
    transforms: list[str] = []
    required: bool = False


class WorkflowItem(ConfigModel):
    slug: Name
    name: str = ""
    type: Annotated[str, choice(WorkflowType.values)] = WorkflowType.CLAY_HUBSPOT_CONTACTS
    source: Annotated[str | None, _connection_of(Provider.CLAY)] = None
    destination: Destination
    warehouse: Warehouse | None = None
    notify: Notify | None = None
    mapping: list[MappingRule] = Field(min_length=1)
    mx_check: bool = False
    enabled: bool = True


def _connection(name: str | None) -> Connection | None:
    return Connection.objects.get(name=name) if name else None


def workflows_plan(items: list[WorkflowItem]) -> list[dict]:
    plans, seen = [], set()
    for index, item in enumerate(items):
        if item.slug in seen:
            raise ConfigPathError((index, "slug"), f"workflow {item.slug!r} appears twice")
        seen.add(item.slug)
        warehouse, notify = item.warehouse or Warehouse(), item.notify or Notify()
        if warehouse.connection and not warehouse.table:
            raise ConfigPathError(
                (index, "warehouse"), "`table` is required with a warehouse connection"
            )
        if warehouse.table:
            try:
                warehouse_table_validate(warehouse.table)
            except ValidationError as refused:
                raise ConfigPathError((index, "warehouse", "table"), refused.messages[0]) from None
        rules = [rule.model_dump(by_alias=True) for rule in item.mapping]
        for rule_index, rule in enumerate(rules):
            problems = field_mapping_rules_check(rules=[rule])
            if problems:
                raise ConfigPathError((index, "mapping", rule_index), " ".join(problems))
        fields = {
            "name": item.name,
            "type": item.type,
            "source_connection": _connection(item.source),
            "destination_connection": _connection(item.destination.connection),
            "destination_object": item.destination.object,
            "match_on": item.destination.match_on,
            "warehouse_connection": _connection(warehouse.connection),
            "warehouse_table": warehouse.table,
            "slack_connection": _connection(notify.slack),
            "slack_channel": notify.channel or "",
            "mx_check": item.mx_check,
            "enabled": item.enabled,
        }
        plans.append(
            {"slug": item.slug, "fields": fields, "rules": field_mapping_rules_normalize(rules)}
        )
    return plans


def workflows_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    from audit.services import audit_event_record

    changes = []
    for plan in plans:
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


def workflows_export() -> list[WorkflowItem]:
    items = []
    for workflow in (
        Workflow.objects.select_related(
            "source_connection",
            "destination_connection",
            "warehouse_connection",
            "slack_connection",
        )
        .exclude(type=WorkflowType.MQL_ROUTING)
        .order_by("slug")
    ):
        # Routing workflows are exported, with their rules, by the `routing` section.
        current = field_mapping_current(workflow=workflow)
        item: dict[str, Any] = {"slug": workflow.slug}
        if workflow.name:
            item["name"] = workflow.name
        item["type"] = workflow.type
        item["source"] = workflow.source_connection.name if workflow.source_connection else None
        item["destination"] = Destination.model_construct(
            connection=workflow.destination_connection.name,
            object=workflow.destination_object,
            match_on=workflow.match_on,
        )
        if workflow.warehouse_connection:
            item["warehouse"] = Warehouse.model_construct(
                connection=workflow.warehouse_connection.name, table=workflow.warehouse_table
            )
        notify: dict[str, Any] = {
            "slack": workflow.slack_connection.name if workflow.slack_connection else None
        }
        if workflow.slack_channel:
            notify["channel"] = workflow.slack_channel
        item["notify"] = Notify.model_construct(**notify)
        if workflow.mx_check:
            item["mx_check"] = True
        if not workflow.enabled:
            item["enabled"] = False
        item["mapping"] = [
            MappingRule.model_construct(
                from_=rule["from"],
                to=rule["to"],
                transforms=rule["transforms"],
                required=rule["required"],
            )
            for rule in (current.rules if current else [])
        ]
        items.append(WorkflowItem.model_construct(**item))
    return items
