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

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, model_validator

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
from integrations.config_schema import (
    ConfigModel,
    ConfigPathError,
    Name,
    choice,
    config_dump,
    config_error_at,
    config_problem,
    config_validate,
    reference,
)
from integrations.models import Connection
from pipelines.configuration import Section, section_register

# Options each subscriber kind takes, beyond name/kind/connection/ordered/retry_schedule.
KIND_OPTIONS = {
    "slack": {"channel", "text"},
    "clay_table": set(),
    "http": {"path"},
    "hubspot_task": {"subject", "body"},
    "hubspot_note": {"body"},
    "hubspot_property": {"property", "value"},
    "hubspot_record": {"record_type", "properties"},
    "warehouse": {"table"},
}
ALL_OPTIONS = set().union(*KIND_OPTIONS.values())
KIND_PROVIDER = {
    "slack": "slack",
    "clay_table": "clay",
    "http": "http",
    "hubspot_task": "hubspot",
    "hubspot_note": "hubspot",
    "hubspot_property": "hubspot",
    "hubspot_record": "hubspot",
    "warehouse": "warehouse",
}


def _connection_exists(name: str) -> str | None:
    if name == "internal" or Connection.objects.filter(name=name).exists():
        return None
    return f"no connection named {name!r}"


ConnectionName = Annotated[str, reference(_connection_exists)]


class ConditionItem(ConfigModel):
    field: str
    op: Annotated[str, choice(ConditionOperator.values)]
    value: str = ""


class TriggerItem(ConfigModel):
    source: ConnectionName | None = None
    type: str | None = None
    object: str | None = None
    property: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    conditions: list[ConditionItem] = []


class SubscriberItem(ConfigModel):
    name: Name
    kind: Annotated[str, choice(SubscriberKind.values)]
    connection: ConnectionName
    ordered: bool = True
    retry_schedule: list[Annotated[int, Field(ge=0)]] | None = None
    channel: str | None = None
    text: str | None = None
    path: str | None = None
    subject: str | None = None
    body: str | None = None
    property: str | None = None
    value: str | None = None
    record_type: str | None = None
    properties: dict[str, str] | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> SubscriberItem:
        given = {k for k in ALL_OPTIONS if getattr(self, k) not in (None, "")}
        stray = given - KIND_OPTIONS[self.kind]
        if stray:
            raise config_problem(f"a {self.kind} subscriber takes no {', '.join(sorted(stray))}")
        missing = [key for key in REQUIRED_OPTIONS[self.kind] if not getattr(self, key)]
        if missing:
            raise config_problem(f"a {self.kind} subscriber needs {', '.join(missing)}")
        provider = (
            Connection.objects.filter(name=self.connection)
            .values_list("provider", flat=True)
            .first()
        )
        if provider != KIND_PROVIDER[self.kind]:
            raise config_problem(
                f"{self.connection} is a {provider} connection, {KIND_PROVIDER[self.kind]} needed"
            )
        return self

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            k: getattr(self, k)
            for k in sorted(KIND_OPTIONS[self.kind])
            if getattr(self, k) not in (None, "")
        }
        if self.retry_schedule is not None:
            options["retry_schedule"] = self.retry_schedule
        return options


class SubscriptionItem(ConfigModel):
    name: Name
    enabled: bool = True
    trigger: TriggerItem = TriggerItem()
    subscribers: list[SubscriberItem] = []


class StepItem(ConfigModel):
    name: Name
    kind: Annotated[str, choice(STEP_KINDS)]
    connection: ConnectionName | None = None
    channel: str | None = None
    text: str | None = None
    thread_of: str | None = None
    row: dict[str, str] | None = None
    timeout_seconds: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] | None = None
    object_type: str | None = None
    object_id: str | None = None
    properties: dict[str, str] | None = None

    @model_validator(mode="after")
    def _complete(self) -> StepItem:
        missing = [key for key in STEP_REQUIRED[self.kind] if not getattr(self, key)]
        if missing:
            raise config_problem(f"a {self.kind} step needs {', '.join(missing)}")
        return self


class WorkflowItem(ConfigModel):
    name: Name
    trigger: str | None = None
    steps: list[StepItem] = Field(min_length=1)


class EventsSection(ConfigModel):
    subscriptions: list[SubscriptionItem] = []
    workflows: list[WorkflowItem] = []


_ADAPTER = TypeAdapter(EventsSection)


def events_validate(raw: Any) -> dict:
    section = config_validate(_ADAPTER, raw, section="events")
    try:
        return _plan(section)
    except ConfigPathError as error:
        raise config_error_at(raw, section="events", error=error) from None


def _plan(section: EventsSection) -> dict:
    """Cross-item checks (duplicates, references between items), then what apply writes."""
    plans, names = [], set()
    for index, item in enumerate(section.subscriptions):
        if item.name in names:
            raise ConfigPathError(("subscriptions", index, "name"), f"{item.name!r} appears twice")
        names.add(item.name)
        seen: set[str] = set()
        for s_index, subscriber in enumerate(item.subscribers):
            if subscriber.name in seen:
                raise ConfigPathError(
                    ("subscriptions", index, "subscribers", s_index, "name"),
                    f"subscriber {subscriber.name!r} appears twice",
                )
            seen.add(subscriber.name)
        trigger = item.trigger
        plans.append(
            {
                "name": item.name,
                "enabled": item.enabled,
                "trigger": {
                    "source": trigger.source or "",
                    "event_type": trigger.type or "",
                    "object_type": trigger.object or "",
                    "property_name": trigger.property or "",
                    "from_value": trigger.from_ or "",
                    "to_value": trigger.to or "",
                },
                "conditions": [(c.field, c.op, c.value) for c in trigger.conditions],
                "subscribers": [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "connection": s.connection,
                        "ordered": s.ordered,
                        "options": s.options(),
                    }
                    for s in item.subscribers
                ],
            }
        )
    known = names | set(Subscription.objects.values_list("name", flat=True))
    flows = []
    for index, flow in enumerate(section.workflows):
        if flow.trigger and flow.trigger not in known:
            raise ConfigPathError(
                ("workflows", index, "trigger"), f"no subscription named {flow.trigger!r}"
            )
        earlier: set[str] = set()
        for s_index, step in enumerate(flow.steps):
            if step.name in earlier:
                raise ConfigPathError(
                    ("workflows", index, "steps", s_index, "name"),
                    f"step {step.name!r} appears twice",
                )
            if step.thread_of and step.thread_of not in earlier:
                raise ConfigPathError(
                    ("workflows", index, "steps", s_index, "thread_of"),
                    f"no earlier step {step.thread_of!r}",
                )
            earlier.add(step.name)
        steps = [step.model_dump(exclude_none=True) for step in flow.steps]
        flows.append({"name": flow.name, "trigger": flow.trigger or "", "steps": steps})
    return {"subscriptions": plans, "workflows": flows}


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


def events_export() -> Any:
    """The section as stored, printed through EventsSection (the models apply validates with),
    so a key the schema does not declare cannot reach the file."""
    subscriptions = [
        _subscription_export(subscription)
        for subscription in Subscription.objects.prefetch_related(
            "conditions", "subscribers__connection"
        )
    ]
    workflows = []
    for name in sorted(set(WorkflowDefinition.objects.values_list("name", flat=True))):
        latest = WorkflowDefinition.objects.filter(name=name).order_by("-version").first()
        workflows.append(
            WorkflowItem.model_construct(
                name=name,
                trigger=latest.trigger_subscription,
                steps=[StepItem.model_construct(**step) for step in latest.steps],
            )
        )
    section = EventsSection.model_construct(subscriptions=subscriptions, workflows=workflows)
    return config_dump(_ADAPTER, section)


def _subscription_export(subscription: Subscription) -> SubscriptionItem:
    trigger = {
        key: getattr(subscription, attr)
        for key, attr in (
            ("source", "source"),
            ("type", "event_type"),
            ("object", "object_type"),
            ("property", "property_name"),
            ("from_", "from_value"),
            ("to", "to_value"),
        )
        if getattr(subscription, attr)
    }
    conditions = [
        ConditionItem.model_construct(field=c.field, op=c.operator, value=c.value)
        for c in subscription.conditions.all()
    ]
    if conditions:
        trigger["conditions"] = conditions
    subscribers = [
        SubscriberItem.model_construct(
            name=s.name,
            kind=s.kind,
            connection=s.connection.name,
            **(s.options or {}),
            **({} if s.ordered else {"ordered": False}),
        )
        for s in subscription.subscribers.all()
    ]
    return SubscriptionItem.model_construct(
        name=subscription.name,
        trigger=TriggerItem.model_construct(**trigger),
        subscribers=subscribers,
        **({} if subscription.enabled else {"enabled": False}),
    )


section_register(Section("events", events_validate, events_apply, events_export))
