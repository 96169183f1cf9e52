"""Territories and routing as code: the `territories:` and `routing:` sections of
`manage.py config export|apply`, declared by TerritoryItem and RoutingItem (the engine is
integrations/config_schema.py). The plan steps check what spans the file: duplicate names, and
rule conditions against HubSpot's properties.

Apply is idempotent: a second apply of the same file reports no change. Owners named by id
that the owner sync has not seen yet become placeholders (synced later); an owner the sync
marked archived is refused. Territories and configurations absent from the file are kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints, model_serializer

from integrations.config_schema import (
    ConfigModel,
    ConfigPathError,
    Name,
    choice,
    reference,
)
from integrations.errors import ProviderError
from integrations.models import Connection
from integrations.url_path import path_refusal
from pipelines.models import (
    Owner,
    RoutingConfig,
    RoutingStrategy,
    ScoringRule,
    StrategyState,
    Territory,
    TerritoryOwner,
    TerritoryRule,
    Workflow,
    WorkflowType,
)
from pipelines.routing.owners import owner_problem, rule_problems

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _owner_problem(hubspot_id: str) -> str | None:
    known = Owner.objects.filter(hubspot_id=hubspot_id).first()
    if known is None:
        return None  # a placeholder until the owner sync sees it
    return owner_problem(known) or None


def _seat_from_id(value: Any) -> Any:
    return value if isinstance(value, dict) else {"id": value}


class Seat(ConfigModel):
    """An owner in a territory: `"12345"`, or `{id, weight, daily_cap}` when not the default."""

    id: Annotated[Text, reference(_owner_problem)]
    weight: int = Field(default=1, ge=1)
    daily_cap: int | None = Field(default=None, ge=1)

    @model_serializer(mode="wrap")
    def _plain_when_default(self, handler: Any) -> Any:
        data = handler(self)
        return data if set(data) - {"id"} else self.id


class TerritoryItem(ConfigModel):
    name: Text
    strategy: Annotated[str, choice(RoutingStrategy.values)] = RoutingStrategy.ROUND_ROBIN
    owners: list[Annotated[Seat, BeforeValidator(_seat_from_id)]] = []
    description: str = ""


def territories_plan(items: list[TerritoryItem]) -> list[dict]:
    plans, seen = [], set()
    for index, item in enumerate(items):
        if item.name in seen:
            raise ConfigPathError((index, "name"), f"territory {item.name!r} appears twice")
        seen.add(item.name)
        if len({seat.id for seat in item.owners}) != len(item.owners):
            raise ConfigPathError((index, "owners"), "an owner is listed twice")
        plans.append(
            {
                "name": item.name,
                "strategy": item.strategy,
                "description": item.description,
                "owners": [
                    {"id": seat.id, "weight": seat.weight, "daily_cap": seat.daily_cap}
                    for seat in item.owners
                ],
            }
        )
    return plans


def territories_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    changes = []
    for plan in plans:
        territory, created = Territory.objects.get_or_create(
            name=plan["name"],
            defaults={"strategy": plan["strategy"], "description": plan["description"]},
        )
        StrategyState.objects.get_or_create(territory=territory)
        changed = created
        if (territory.strategy, territory.description) != (plan["strategy"], plan["description"]):
            territory.strategy, territory.description = plan["strategy"], plan["description"]
            territory.save(update_fields=["strategy", "description", "updated_at"])
            changed = True
        current = [
            {"id": m.owner.hubspot_id, "weight": m.weight, "daily_cap": m.daily_cap}
            for m in territory.memberships.select_related("owner").order_by("position", "id")
        ]
        if current != plan["owners"]:
            territory.memberships.all().delete()
            for position, seat in enumerate(plan["owners"], start=1):
                owner, _ = Owner.objects.get_or_create(
                    hubspot_id=seat["id"]
                )  # placeholder until synced
                TerritoryOwner.objects.create(
                    territory=territory,
                    owner=owner,
                    position=position,
                    weight=seat["weight"],
                    daily_cap=seat["daily_cap"],
                )
            changed = True
        if changed:
            changes.append(f"territory {plan['name']}: {'created' if created else 'updated'}")
    return changes


def territories_export() -> list[TerritoryItem]:
    items = []
    for territory in Territory.objects.prefetch_related("memberships__owner"):
        owners = []
        for m in territory.memberships.all():
            seat: dict[str, Any] = {"id": m.owner.hubspot_id}
            if m.weight != 1 or m.daily_cap is not None:
                seat["weight"] = m.weight
            if m.daily_cap:
                seat["daily_cap"] = m.daily_cap
            owners.append(Seat.model_construct(**seat))
        item: dict[str, Any] = {
            "name": territory.name,
            "strategy": territory.strategy,
            "owners": owners,
        }
        if territory.description:
            item["description"] = territory.description
        items.append(TerritoryItem.model_construct(**item))
    return items


def _connection_problem(name: str) -> str | None:
    if not Connection.objects.filter(name=name).exists():
        return f"no connection named {name!r}"
    return None


def _connection_problem_of(wanted: str):
    """A connection that must exist and be of one provider: a HubSpot connection chosen as the
    scoring API has no `call`, and would only fail at the first lead."""

    def problem(name: str) -> str | None:
        connection = Connection.objects.filter(name=name).first()
        if connection is None:
            return f"no connection named {name!r}"
        if connection.provider != wanted:
            return f"{name!r} is a {connection.provider} connection, not {wanted}"
        return None

    return problem


def _territory_problem(name: str) -> str | None:
    if not Territory.objects.filter(name=name).exists():
        return f"no territory named {name!r} (define it under `territories:`)"
    return None


ConnectionName = Annotated[str, reference(_connection_problem)]
TerritoryName = Annotated[str, reference(_territory_problem)]


class Scoring(ConfigModel):
    connection: Annotated[str, reference(_connection_problem_of("http"))] | None = None
    path: str | None = None
    score_field: str | None = None
    territory_field: str | None = None


class SlackNotice(ConfigModel):
    connection: Annotated[str, reference(_connection_problem_of("slack"))] | None = None
    channel: str | None = ""


class TerritoryRuleItem(ConfigModel):
    territory: Annotated[Text, reference(_territory_problem)]
    when: dict[str, Any] | None = None


class ScoringRuleItem(ConfigModel):
    name: Text
    points: int
    when: dict[str, Any] | None = None


class RoutingItem(ConfigModel):
    workflow: Name
    hubspot: Annotated[Text, reference(_connection_problem_of("hubspot"))]
    lifecycle_stage: str | None = None
    # a HubSpot lead score; 1000 leaves room for any scoring model we have seen
    deal_threshold: int | None = Field(default=None, ge=0, le=1000)
    deal_pipeline: str | None = None
    deal_stage: str | None = None
    fallback_territory: TerritoryName | None = None
    scoring: Scoring | None = None
    slack: SlackNotice | None = None
    portal_id: str | None = None
    rules: list[TerritoryRuleItem] = []
    scoring_rules: list[ScoringRuleItem] = []


def routing_plan(items: list[RoutingItem]) -> list[dict]:
    plans = []
    for index, item in enumerate(items):
        hubspot = Connection.objects.get(name=item.hubspot)
        fields: dict[str, Any] = {"hubspot_connection": hubspot}
        for key in ("lifecycle_stage", "deal_pipeline", "deal_stage", "portal_id"):
            if getattr(item, key) is not None:
                fields[key] = getattr(item, key)
        if item.deal_threshold is not None:
            fields["deal_threshold"] = item.deal_threshold
        fields["fallback_territory"] = (
            Territory.objects.get(name=item.fallback_territory) if item.fallback_territory else None
        )
        scoring = item.scoring or Scoring()
        fields["scoring_connection"] = (
            Connection.objects.get(name=scoring.connection) if scoring.connection else None
        )
        for key, column in (
            ("path", "scoring_path"),
            ("score_field", "score_field"),
            ("territory_field", "territory_field"),
        ):
            if getattr(scoring, key) is not None:
                fields[column] = getattr(scoring, key)
        refusal = path_refusal(fields.get("scoring_path", "/score"))
        if refusal is not None:
            raise ConfigPathError((index, "scoring", "path"), refusal)
        slack = item.slack or SlackNotice()
        fields["slack_connection"] = (
            Connection.objects.get(name=slack.connection) if slack.connection else None
        )
        fields["slack_channel"] = slack.channel or ""
        config = RoutingConfig.objects.filter(workflow__slug=item.workflow).first()
        rules = []
        for n, rule in enumerate(item.rules):
            _check_conditions(config, hubspot, rule.when, (index, "rules", n))
            rules.append(
                {
                    "position": n + 1,
                    "territory": Territory.objects.get(name=rule.territory),
                    "conditions": rule.when or {},
                }
            )
        scoring_rules = []
        for n, rule in enumerate(item.scoring_rules):
            _check_conditions(config, hubspot, rule.when, (index, "scoring_rules", n))
            scoring_rules.append(
                {
                    "position": n + 1,
                    "name": rule.name,
                    "points": rule.points,
                    "conditions": rule.when or {},
                }
            )
        plans.append(
            {
                "workflow": item.workflow,
                "fields": fields,
                "rules": rules,
                "scoring_rules": scoring_rules,
            }
        )
    return plans


def _check_conditions(
    config: RoutingConfig | None, hubspot: Connection, when: Any, loc: tuple
) -> None:
    probe = config or RoutingConfig(hubspot_connection=hubspot)
    try:
        problems = rule_problems(config=probe, conditions=when)
    except ProviderError as error:
        raise ConfigPathError(loc, f"could not check the properties in HubSpot ({error})") from None
    if problems:
        raise ConfigPathError(loc, "; ".join(problems))


def routing_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    changes = []
    for plan in plans:
        fields = plan["fields"]
        workflow, created = Workflow.objects.get_or_create(
            slug=plan["workflow"],
            defaults={
                "name": "MQL routing",
                "type": WorkflowType.MQL_ROUTING,
                "destination_connection": fields["hubspot_connection"],
            },
        )
        config = RoutingConfig.objects.filter(workflow=workflow).first()
        is_new = config is None
        config = config or RoutingConfig(workflow=workflow)
        differs = is_new or any(getattr(config, k) != v for k, v in fields.items())
        for key, value in fields.items():
            setattr(config, key, value)
        if differs:
            config.save()
        current = [
            {"position": r.position, "territory": r.territory, "conditions": r.conditions}
            for r in config.rules.select_related("territory").order_by("position", "id")
        ]
        if current != plan["rules"]:
            config.rules.all().delete()
            TerritoryRule.objects.bulk_create(
                [TerritoryRule(config=config, **rule) for rule in plan["rules"]]
            )
            differs = True
        scoring = [
            {"position": r.position, "name": r.name, "points": r.points, "conditions": r.conditions}
            for r in config.scoring_rules.order_by("position", "id")
        ]
        if scoring != plan["scoring_rules"]:
            config.scoring_rules.all().delete()
            ScoringRule.objects.bulk_create(
                [ScoringRule(config=config, **rule) for rule in plan["scoring_rules"]]
            )
            differs = True
        if differs:
            changes.append(f"routing {plan['workflow']}: {'created' if is_new else 'updated'}")
    return changes


def routing_export() -> list[RoutingItem]:
    items = []
    for config in RoutingConfig.objects.select_related(
        "workflow",
        "hubspot_connection",
        "fallback_territory",
        "scoring_connection",
        "slack_connection",
    ):
        item: dict[str, Any] = {
            "workflow": config.workflow.slug,
            "hubspot": config.hubspot_connection.name,
            "lifecycle_stage": config.lifecycle_stage,
            "deal_threshold": config.deal_threshold,
            "deal_pipeline": config.deal_pipeline,
            "deal_stage": config.deal_stage,
        }
        if config.fallback_territory:
            item["fallback_territory"] = config.fallback_territory.name
        if config.scoring_connection:
            item["scoring"] = Scoring.model_construct(
                connection=config.scoring_connection.name,
                path=config.scoring_path,
                score_field=config.score_field,
                territory_field=config.territory_field,
            )
        if config.slack_connection:
            item["slack"] = SlackNotice.model_construct(
                connection=config.slack_connection.name, channel=config.slack_channel
            )
        if config.portal_id:
            item["portal_id"] = config.portal_id
        item["rules"] = [
            TerritoryRuleItem.model_construct(territory=r.territory.name, when=r.conditions)
            for r in config.rules.select_related("territory").order_by("position", "id")
        ]
        if config.scoring_rules.exists():
            item["scoring_rules"] = [
                ScoringRuleItem.model_construct(name=r.name, points=r.points, when=r.conditions)
                for r in config.scoring_rules.order_by("position", "id")
            ]
        items.append(RoutingItem.model_construct(**item))
    return items
