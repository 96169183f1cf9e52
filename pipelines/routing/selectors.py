"""Reads for routing: configurations, rules as the engine wants them, decisions explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.models import RoutingConfig, RoutingDecision, ScoringRule, Territory, TerritoryRule
from pipelines.routing.rules import RuleError, RuleSpec, conditions_parse, properties_referenced
from pipelines.routing.scoring import ScoringRuleSpec


def condition_fields() -> list[tuple[str, str]]:
    """The one field vocabulary of territory rules, scoring rules and the simulator: the named
    fields, then contact.<property> / company.<property> for HubSpot's default properties
    (any other contact.x / company.x may be typed; saving checks it exists in the portal)."""
    from pipelines.routing.owners import STANDARD_PROPERTIES
    from pipelines.routing.rules import FIELD_LABELS

    fields = list(FIELD_LABELS.items())
    for obj, scope in (("contacts", "contact"), ("companies", "company")):
        fields += [
            (f"{scope}.{p}", f"HubSpot {obj[:-1]} property")
            for p in sorted(STANDARD_PROPERTIES[obj])
        ]
    return fields


def routing_config_get(*, workflow_slug: str) -> RoutingConfig | None:
    return (
        RoutingConfig.objects.select_related(
            "workflow",
            "hubspot_connection",
            "fallback_territory",
            "scoring_connection",
            "slack_connection",
        )
        .filter(workflow__slug=workflow_slug)
        .first()
    )


def routing_config_default() -> RoutingConfig | None:
    """The configuration `manage.py route` uses when none is named: the only one, if one."""
    configs = list(RoutingConfig.objects.select_related("workflow")[:2])
    return configs[0] if len(configs) == 1 else None


@dataclass(frozen=True)
class RoutingSetup:
    """What every decision of a configuration reads, loaded once per batch of leads."""

    rules: list[RuleSpec]
    scoring_rules: list[ScoringRuleSpec]
    territories: dict[str, Territory]


def routing_setup_load(*, config: RoutingConfig) -> RoutingSetup:
    return RoutingSetup(
        territory_rule_specs(config=config),
        scoring_rule_specs(config=config),
        {t.name: t for t in Territory.objects.all()},
    )


def territory_rule_specs(*, config: RoutingConfig) -> list[RuleSpec]:
    """Enabled rules in order. A rule stored with conditions that no longer parse (edited by
    hand in the database) is kept out, and says so through RuleError at save time instead."""
    specs = []
    for rule in TerritoryRule.objects.filter(config=config, enabled=True).select_related(
        "territory"
    ):
        try:
            conditions = conditions_parse(rule.conditions)
        except RuleError:
            continue
        specs.append(RuleSpec(rule.pk, rule.position, rule.territory.name, conditions))
    return specs


def scoring_rule_specs(*, config: RoutingConfig) -> list[ScoringRuleSpec]:
    specs = []
    for rule in ScoringRule.objects.filter(config=config):
        try:
            specs.append(ScoringRuleSpec(rule.name, rule.points, conditions_parse(rule.conditions)))
        except RuleError:
            continue
    return specs


def properties_needed(*, config: RoutingConfig) -> set[tuple[str, str]]:
    """Every (object, property) the rules read, so one batch read fetches them all."""
    needed: set[tuple[str, str]] = set()
    for spec in territory_rule_specs(config=config):
        needed |= properties_referenced(spec.conditions)
    for scoring in scoring_rule_specs(config=config):
        needed |= properties_referenced(scoring.conditions)
    return needed


def decision_explanation(*, decision: RoutingDecision | Any) -> list[str]:
    """The decision in sentences, for the admin's "why did this lead go to Alice?"."""
    lines = []
    if decision.score is None:
        lines.append(f"No score ({decision.score_source or 'not scored'}).")
    else:
        source = "the scoring API" if decision.score_source == "api" else "the scoring rules"
        matched = [p for p in decision.score_parts if p.get("matched") and p.get("points")]
        detail = ", ".join(f"{p['rule']} {p['points']:+d}" for p in matched)
        lines.append(f"Scored {decision.score} by {source}" + (f" ({detail})." if detail else "."))
    chosen = next((r for r in decision.rules if r.get("chosen")), None)
    if chosen:
        why = (
            "; ".join(c["reason"] for c in chosen["conditions"])
            or "no conditions: matches every lead"
        )
        lines.append(f"Rule {chosen['position']} sent it to {chosen['territory']}: {why}.")
    for rule in decision.rules:
        if chosen and rule is chosen:
            continue
        if rule.get("matched"):
            lines.append(
                f"Rule {rule['position']} ({rule['territory']}) also matched, but rule {chosen['position']} comes first."
            )
        else:
            failed = [c["reason"] for c in rule["conditions"] if not c["matched"]]
            lines.append(
                f"Rule {rule['position']} ({rule['territory']}) did not match: {'; '.join(failed)}."
            )
    if decision.territory_reason:
        lines.append(decision.territory_reason)
    owner = decision.owner
    if owner is not None:
        state = decision.strategy_state or {}
        lines.append(
            f"{state.get('reason') or 'Assigned'} → {owner.name} (HubSpot owner {owner.hubspot_id})."
        )
    elif decision.status == "dead_lettered":
        lines.append("Nobody could take it: it waits in the dead-letter queue.")
    if decision.deal_id:
        lines.append(f"Score above the threshold: deal {decision.deal_id}.")
    return lines


def decision_notified_label(*, decision: RoutingDecision) -> str:
    """Whether the rep was told, and if not, why not, in words."""
    if decision.notified:
        return "Sent to Slack"
    if decision.notification_status == "failed" and decision.notification_error:
        return f"Failed: {decision.notification_error}"
    failed = next((e for e in decision.errors or [] if str(e).startswith("Slack:")), None)
    if failed:
        return f"Failed: {str(failed).removeprefix('Slack:').strip()}"
    if decision.owner_id is None:
        return "Not sent: no owner was chosen"
    if decision.config.slack_connection_id is None:
        return "Not sent: no Slack connection in the routing configuration"
    if not decision.config.slack_channel and not decision.owner.slack_user_id:
        return "Not sent: no channel set and the owner has no Slack user"
    return "Not sent yet"
