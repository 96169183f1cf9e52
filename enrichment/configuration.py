"""Company-enrichment items of the `workflows:` config section (same validate → plan → apply
→ export style as pipelines/configuration/workflows.py, which hands these items here).

```yaml
- slug: daily-company-enrichment
  type: company_enrichment
  destination: {connection: hubspot-main, object: companies}
  select: {created_since_last_run: true}
  schedule: {cron: "0 6 * * *", timezone: America/New_York}
  cache_ttl_hours: 24
  sources: [{name: apollo, connection: apollo-main}]
  fields: [{to: numberofemployees, from: [apollo.estimated_num_employees]}]
  score: {property: switchyard_fit_score, rules: [{field: …, op: between, value: [200, 5000], points: 30}]}
  notify: {slack: {connection: slack-main, channel: "#high-value-accounts", min_score: 75}}
```
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from enrichment.models import SelectMode, SourceName
from enrichment.rules import fields_check, score_rules_check
from enrichment.schedule import DEFAULT_CRON, cron_check
from integrations.config_schema import ConfigError
from integrations.models import Connection, Provider

TOP_KEYS = {
    "slug",
    "name",
    "type",
    "destination",
    "select",
    "schedule",
    "cache_ttl_hours",
    "sources",
    "fields",
    "score",
    "notify",
    "people",
    "enabled",
    "__line__",
}
SELECT_KEYS = {
    "created_since_last_run": SelectMode.CREATED,
    "created_or_modified_since_last_run": SelectMode.CREATED_OR_MODIFIED,
    "on_demand": SelectMode.ON_DEMAND,
}
PEOPLE_KEYS = {
    "min_score",
    "titles",
    "seniorities",
    "per_company",
    "reveal_emails",
    "monthly_credits",
    "contact_workflow",
    "__line__",
}


def clean(value: Any) -> Any:
    """The YAML loader's ``__line__`` markers removed, recursively."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _connection(name: Any, provider: str, line: int | None, where: str) -> int:
    connection = Connection.objects.filter(name=str(name or "")).first()
    if connection is None:
        raise ConfigError(
            line, f"{where}: no connection named {name!r} (define it under `connections:`)"
        )
    if connection.provider != provider:
        raise ConfigError(
            line, f"{where}: {name!r} is a {connection.provider} connection, expected {provider}"
        )
    return connection.pk


def _line(node: Any, default: int | None) -> int | None:
    return node.get("__line__", default) if isinstance(node, dict) else default


def validate(item: dict, where: str, line: int | None) -> dict:
    unknown = set(item) - TOP_KEYS
    if unknown:
        raise ConfigError(line, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    destination = item.get("destination")
    if not isinstance(destination, dict) or destination.get("object", "companies") != "companies":
        raise ConfigError(line, f"{where}.destination must be {{connection, object: companies}}")
    hubspot = _connection(
        destination.get("connection"),
        Provider.HUBSPOT,
        _line(destination, line),
        f"{where}.destination",
    )
    select = clean(item.get("select") or {"created_since_last_run": True})
    chosen = [k for k, v in select.items() if v] if isinstance(select, dict) else []
    if len(chosen) != 1 or chosen[0] not in SELECT_KEYS:
        raise ConfigError(
            _line(item.get("select"), line),
            f"{where}.select: set exactly one of {', '.join(SELECT_KEYS)} to true",
        )
    schedule = clean(item.get("schedule") or {})
    cron, tz = str(schedule.get("cron", DEFAULT_CRON)), str(schedule.get("timezone", "UTC"))
    problems = cron_check(cron, tz)
    if problems:
        raise ConfigError(
            _line(item.get("schedule"), line), f"{where}.schedule: {' '.join(problems)}"
        )
    ttl = item.get("cache_ttl_hours", 24)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 24 * 90:
        raise ConfigError(line, f"{where}.cache_ttl_hours must be a whole number of hours (0-2160)")
    sources = _sources(item.get("sources"), where, line)
    fields = clean(item.get("fields"))
    problems = fields_check(fields)
    if problems:
        raise ConfigError(_line(item.get("fields"), line), f"{where}.fields: {' '.join(problems)}")
    unused = {ref.split(".")[0] for f in fields for ref in f["from"]} - {s["name"] for s in sources}
    if unused:
        raise ConfigError(
            line, f"{where}.fields: sources {', '.join(sorted(unused))} are not under `sources`"
        )
    score = clean(item.get("score") or {})
    problems = score_rules_check(score.get("rules", []))
    if score and not score.get("property"):
        problems.append("score.property (the HubSpot property the score goes to) is required")
    if problems:
        raise ConfigError(_line(item.get("score"), line), f"{where}.score: {' '.join(problems)}")
    notify = _notify(item.get("notify"), where, line)
    return {
        "slug": str(item["slug"]),
        "line": line,
        "workflow": {
            "name": str(item.get("name", "")),
            "destination_connection_id": hubspot,
            "enabled": bool(item.get("enabled", True)),
            "slack_connection_id": notify["connection"],
            "slack_channel": notify["channel"],
        },
        "settings": {
            "select_mode": SELECT_KEYS[chosen[0]],
            "cache_ttl_hours": ttl,
            "cron": cron,
            "timezone": tz,
            "notify_min_score": notify["min_score"],
            **_people(item.get("people"), where, line),
        },
        "sources": sources,
        "fields": [
            {
                "to": f["to"],
                "from": list(f["from"]),
                **({"transforms": list(f["transforms"])} if f.get("transforms") else {}),
                **({"overwrite": True} if f.get("overwrite") else {}),
            }
            for f in fields
        ],
        "score": score,
    }


def _sources(items: Any, where: str, line: int | None) -> list[dict]:
    if not isinstance(items, list) or not items:
        raise ConfigError(line, f"{where}.sources must list at least one {{name, connection}}")
    out, seen = [], set()
    for n, source in enumerate(items):
        sline = _line(source, line)
        if not isinstance(source, dict) or source.get("name") not in SourceName.values:
            raise ConfigError(
                sline, f"{where}.sources[{n}]: name must be one of {', '.join(SourceName.values)}"
            )
        if source["name"] in seen:
            raise ConfigError(sline, f"{where}.sources[{n}]: {source['name']} appears twice")
        seen.add(source["name"])
        extra = set(source) - {"name", "connection", "daily_calls", "monthly_credits", "__line__"}
        if extra:
            raise ConfigError(
                sline, f"{where}.sources[{n}]: unknown key(s) {', '.join(sorted(extra))}"
            )
        out.append(
            {
                "name": source["name"],
                "connection_id": _connection(
                    source.get("connection"), source["name"], sline, f"{where}.sources[{n}]"
                ),
                "daily_call_budget": source.get("daily_calls"),
                "monthly_credit_budget": source.get("monthly_credits"),
                "position": n,
            }
        )
    return out


def _notify(node: Any, where: str, line: int | None) -> dict:
    slack = (node or {}).get("slack") if isinstance(node, dict) else None
    if not slack:
        return {"connection": None, "channel": "", "min_score": None}
    if not isinstance(slack, dict):
        raise ConfigError(line, f"{where}.notify.slack must be {{connection, channel, min_score}}")
    sline = _line(slack, line)
    min_score = slack.get("min_score")
    if min_score is not None and (not isinstance(min_score, int) or not 0 <= min_score <= 100):
        raise ConfigError(sline, f"{where}.notify.slack.min_score must be 0-100")
    return {
        "connection": _connection(
            slack.get("connection"), Provider.SLACK, sline, f"{where}.notify.slack"
        ),
        "channel": str(slack.get("channel", "")),
        "min_score": min_score,
    }


def _people(node: Any, where: str, line: int | None) -> dict:
    if not node:
        return {"people_enabled": False}
    if not isinstance(node, dict) or set(node) - PEOPLE_KEYS:
        raise ConfigError(
            line, f"{where}.people: keys are {', '.join(sorted(PEOPLE_KEYS - {'__line__'}))}"
        )
    from pipelines.models import Workflow

    contact = Workflow.objects.filter(slug=str(node.get("contact_workflow", ""))).first()
    if node.get("contact_workflow") and contact is None:
        raise ConfigError(_line(node, line), f"{where}.people.contact_workflow: no such workflow")
    return {
        "people_enabled": True,
        "people_min_score": int(node.get("min_score", 75)),
        "people_titles": [str(t) for t in node.get("titles") or []],
        "people_seniorities": [str(s) for s in node.get("seniorities") or []],
        "people_per_company": int(node.get("per_company", 3)),
        "people_reveal_emails": bool(node.get("reveal_emails", False)),
        "people_monthly_credits": int(node.get("monthly_credits", 0)),
        "people_contact_workflow_id": contact.pk if contact else None,
    }


def apply(plan: dict, *, actor_label: str) -> list[str]:
    from enrichment.admin_services import enrichment_workflow_save

    with transaction.atomic():
        return enrichment_workflow_save(
            slug=plan["slug"],
            workflow_fields=plan["workflow"],
            settings_fields=plan["settings"],
            sources=plan["sources"],
            fields=plan["fields"],
            score=plan["score"],
            actor_label=actor_label,
            note="config apply",
        )


def export() -> list[dict]:
    from enrichment.selectors import enrichment_rules_current
    from pipelines.models import Workflow, WorkflowType

    items = []
    for workflow in Workflow.objects.filter(type=WorkflowType.COMPANY_ENRICHMENT).select_related(
        "destination_connection", "slack_connection", "enrichment"
    ):
        config = workflow.enrichment
        rules = enrichment_rules_current(workflow=workflow)
        select = {v: k for k, v in SELECT_KEYS.items()}[config.select_mode]
        item: dict[str, Any] = {
            "slug": workflow.slug,
            "type": workflow.type,
            "destination": {
                "connection": workflow.destination_connection.name,
                "object": "companies",
            },
            "select": {select: True},
            "schedule": {"cron": config.cron, "timezone": config.timezone},
            "cache_ttl_hours": config.cache_ttl_hours,
            "sources": [
                {
                    "name": s.name,
                    "connection": s.connection.name,
                    **({"daily_calls": s.daily_call_budget} if s.daily_call_budget else {}),
                    **(
                        {"monthly_credits": s.monthly_credit_budget}
                        if s.monthly_credit_budget
                        else {}
                    ),
                }
                for s in workflow.enrichment_sources.select_related("connection")
            ],
            "fields": rules.fields if rules else [],
            "score": rules.score if rules else {},
        }
        if workflow.name:
            item["name"] = workflow.name
        if workflow.slack_connection:
            item["notify"] = {
                "slack": {
                    "connection": workflow.slack_connection.name,
                    "channel": workflow.slack_channel,
                    **(
                        {"min_score": config.notify_min_score}
                        if config.notify_min_score is not None
                        else {}
                    ),
                }
            }
        if not workflow.enabled:
            item["enabled"] = False
        items.append(item)
    return items
