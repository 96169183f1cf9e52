"""Territories and routing as code: the `territories:` and `routing:` sections of
`manage.py config export|apply` (model: integrations/config_sections.py).

Apply is idempotent: a second apply of the same file reports no change. Owners named by id
that the owner sync has not seen yet become placeholders (synced later); an owner the sync
marked archived is refused. Territories and configurations absent from the file are kept.
"""

from __future__ import annotations

from typing import Any

from integrations.config_sections import ConfigError
from integrations.errors import ProviderError
from integrations.models import Connection
from pipelines.configuration import Section, section_register
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

_TERRITORY_KEYS = {"name", "strategy", "owners", "description", "__line__"}
_ROUTING_KEYS = {
    "workflow",
    "hubspot",
    "lifecycle_stage",
    "deal_threshold",
    "deal_pipeline",
    "deal_stage",
    "fallback_territory",
    "scoring",
    "slack",
    "portal_id",
    "rules",
    "scoring_rules",
    "__line__",
}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def territories_validate(items: Any) -> list[dict]:
    if not isinstance(items, list):
        raise ConfigError(None, "`territories` must be a list")
    plans, seen = [], set()
    for index, item in enumerate(items):
        where, line = (
            f"territories[{index}]",
            item.get("__line__") if isinstance(item, dict) else None,
        )
        if not isinstance(item, dict):
            raise ConfigError(None, f"{where} must be a mapping")
        unknown = set(item) - _TERRITORY_KEYS
        if unknown:
            raise ConfigError(line, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name = str(item.get("name") or "").strip()
        if not name or name in seen:
            raise ConfigError(line, f"{where}: `name` is required and must be unique")
        seen.add(name)
        strategy = item.get("strategy", RoutingStrategy.ROUND_ROBIN)
        if strategy not in RoutingStrategy.values:
            raise ConfigError(
                line,
                f"{where}: strategy {strategy!r} is not one of {', '.join(RoutingStrategy.values)}",
            )
        seats = []
        for n, owner in enumerate(item.get("owners") or []):
            spec = owner if isinstance(owner, dict) else {"id": owner}
            owner_id, weight, cap = (
                str(spec.get("id") or "").strip(),
                spec.get("weight", 1),
                spec.get("daily_cap"),
            )
            if not owner_id:
                raise ConfigError(
                    spec.get("__line__", line), f"{where}.owners[{n}]: an owner id is required"
                )
            if (
                not isinstance(weight, int)
                or weight < 1
                or (cap is not None and (not isinstance(cap, int) or cap < 1))
            ):
                raise ConfigError(
                    spec.get("__line__", line),
                    f"{where}.owners[{n}]: weight and daily_cap must be positive integers",
                )
            known = Owner.objects.filter(hubspot_id=owner_id).first()
            if known is not None and owner_problem(known):
                raise ConfigError(
                    spec.get("__line__", line), f"{where}.owners[{n}]: {owner_problem(known)}"
                )
            seats.append({"id": owner_id, "weight": weight, "daily_cap": cap})
        if len({s["id"] for s in seats}) != len(seats):
            raise ConfigError(line, f"{where}: an owner is listed twice")
        plans.append(
            {
                "name": name,
                "strategy": strategy,
                "description": str(item.get("description") or ""),
                "owners": seats,
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
                # A synced owner with this id (the first, should two portals share it), else
                # a placeholder the next owner sync adopts.
                owner = (
                    Owner.objects.filter(hubspot_id=seat["id"])
                    .order_by("hubspot_connection_id", "pk")
                    .first()
                ) or Owner.objects.create(hubspot_id=seat["id"])
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


def territories_export() -> list[dict]:
    items = []
    for territory in Territory.objects.prefetch_related("memberships__owner"):
        owners: list[Any] = []
        for m in territory.memberships.all():
            plain = m.weight == 1 and m.daily_cap is None
            owners.append(
                m.owner.hubspot_id
                if plain
                else {
                    "id": m.owner.hubspot_id,
                    "weight": m.weight,
                    **({"daily_cap": m.daily_cap} if m.daily_cap else {}),
                }
            )
        item = {"name": territory.name, "strategy": territory.strategy, "owners": owners}
        if territory.description:
            item["description"] = territory.description
        items.append(item)
    return items


def _connection(name: Any, line: int | None, what: str) -> Connection:
    connection = Connection.objects.filter(name=str(name or "")).first()
    if connection is None:
        raise ConfigError(line, f"routing.{what}: no connection named {name!r}")
    return connection


def _territory(name: Any, line: int | None, what: str) -> Territory:
    territory = Territory.objects.filter(name=str(name or "")).first()
    if territory is None:
        raise ConfigError(
            line, f"routing.{what}: no territory named {name!r} (define it under `territories:`)"
        )
    return territory


def routing_validate(value: Any) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    plans = []
    for item in items:
        if not isinstance(item, dict):
            raise ConfigError(None, "`routing` must be a mapping (or a list of them)")
        line = item.get("__line__")
        unknown = set(item) - _ROUTING_KEYS
        if unknown:
            raise ConfigError(line, f"routing: unknown key(s) {', '.join(sorted(unknown))}")
        if not item.get("workflow"):
            raise ConfigError(line, "routing: `workflow` (a slug) is required")
        hubspot = _connection(item.get("hubspot"), line, "hubspot")
        fields: dict[str, Any] = {"hubspot_connection": hubspot}
        for key in ("lifecycle_stage", "deal_pipeline", "deal_stage", "portal_id"):
            if key in item:
                fields[key] = str(item[key])
        if "deal_threshold" in item:
            if (
                not isinstance(item["deal_threshold"], int)
                or not 0 <= item["deal_threshold"] <= 1000
            ):
                raise ConfigError(line, "routing.deal_threshold must be a whole number")
            fields["deal_threshold"] = item["deal_threshold"]
        fallback = item.get("fallback_territory")
        fields["fallback_territory"] = (
            _territory(fallback, line, "fallback_territory") if fallback else None
        )
        scoring = item.get("scoring") or {}
        fields["scoring_connection"] = (
            _connection(scoring["connection"], line, "scoring.connection")
            if scoring.get("connection")
            else None
        )
        for key, column in (
            ("path", "scoring_path"),
            ("score_field", "score_field"),
            ("territory_field", "territory_field"),
        ):
            if key in scoring:
                fields[column] = str(scoring[key])
        slack = item.get("slack") or {}
        fields["slack_connection"] = (
            _connection(slack["connection"], line, "slack.connection")
            if slack.get("connection")
            else None
        )
        fields["slack_channel"] = str(slack.get("channel") or "")
        config = RoutingConfig.objects.filter(workflow__slug=item["workflow"]).first()
        rules = []
        for n, rule in enumerate(item.get("rules") or [], start=1):
            rule_line = rule.get("__line__", line) if isinstance(rule, dict) else line
            if not isinstance(rule, dict) or not rule.get("territory"):
                raise ConfigError(
                    rule_line, f"routing.rules[{n - 1}]: needs `territory` and `when`"
                )
            territory = _territory(rule["territory"], rule_line, f"rules[{n - 1}].territory")
            _check_conditions(config, hubspot, rule.get("when"), rule_line, f"rules[{n - 1}]")
            rules.append(
                {
                    "position": n,
                    "territory": territory,
                    "conditions": _clean(rule.get("when") or {}),
                }
            )
        scoring_rules = []
        for n, rule in enumerate(item.get("scoring_rules") or [], start=1):
            rule_line = rule.get("__line__", line) if isinstance(rule, dict) else line
            if (
                not isinstance(rule, dict)
                or not rule.get("name")
                or not isinstance(rule.get("points"), int)
            ):
                raise ConfigError(
                    rule_line,
                    f"routing.scoring_rules[{n - 1}]: needs `name`, integer `points` and `when`",
                )
            _check_conditions(
                config, hubspot, rule.get("when"), rule_line, f"scoring_rules[{n - 1}]"
            )
            scoring_rules.append(
                {
                    "position": n,
                    "name": str(rule["name"]),
                    "points": rule["points"],
                    "conditions": _clean(rule.get("when") or {}),
                }
            )
        plans.append(
            {
                "workflow": str(item["workflow"]),
                "fields": fields,
                "rules": rules,
                "scoring_rules": scoring_rules,
            }
        )
    return plans


def _check_conditions(
    config: RoutingConfig | None, hubspot: Connection, when: Any, line: int | None, where: str
) -> None:
    probe = config or RoutingConfig(hubspot_connection=hubspot)
    try:
        problems = rule_problems(config=probe, conditions=_clean(when))
    except ProviderError as error:
        raise ConfigError(
            line, f"routing.{where}: could not check the properties in HubSpot ({error})"
        ) from None
    if problems:
        raise ConfigError(line, f"routing.{where}: {'; '.join(problems)}")


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


def routing_export() -> Any:
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
            item["scoring"] = {
                "connection": config.scoring_connection.name,
                "path": config.scoring_path,
                "score_field": config.score_field,
                "territory_field": config.territory_field,
            }
        if config.slack_connection:
            item["slack"] = {
                "connection": config.slack_connection.name,
                "channel": config.slack_channel,
            }
        if config.portal_id:
            item["portal_id"] = config.portal_id
        item["rules"] = [
            {"territory": r.territory.name, "when": r.conditions}
            for r in config.rules.select_related("territory").order_by("position", "id")
        ]
        if config.scoring_rules.exists():
            item["scoring_rules"] = [
                {"name": r.name, "points": r.points, "when": r.conditions}
                for r in config.scoring_rules.order_by("position", "id")
            ]
        items.append(item)
    return items[0] if len(items) == 1 else items


section_register(
    Section("territories", territories_validate, territories_apply, territories_export)
)
section_register(Section("routing", routing_validate, routing_apply, routing_export))
