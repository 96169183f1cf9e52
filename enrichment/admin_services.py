"""Saving an enrichment workflow (from config apply or the browser): the workflow row, its
settings, sources, a new rules version when fields or score changed, and its schedule.
Every change is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import audit_event_record
from enrichment.models import EnrichmentRules, EnrichmentSettings, EnrichmentSource
from enrichment.rules import fields_check, score_rules_check
from enrichment.schedule import enrichment_schedule_save
from enrichment.selectors import enrichment_rules_current
from pipelines.models import Workflow, WorkflowType


def enrichment_rules_version_create(
    *,
    workflow: Workflow,
    fields: list[dict],
    score: dict,
    actor: Any = None,
    actor_label: str = "",
    note: str = "",
) -> EnrichmentRules:
    """The next rules version, unless equal to the current one (then that one is returned)."""
    problems = fields_check(fields) + score_rules_check(score.get("rules", []))
    if problems:
        raise ValueError(" ".join(problems))
    with transaction.atomic():
        Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
        current = enrichment_rules_current(workflow=workflow)
        if current is not None and current.fields == fields and current.score == score:
            return current
        version = EnrichmentRules.objects.create(
            workflow=workflow,
            version=(current.version + 1) if current else 1,
            fields=fields,
            score=score,
            note=note[:300],
            created_by_label=(actor_label or getattr(actor, "username", "") or "system")[:200],
        )
        audit_event_record(
            action="enrichment.rules_changed",
            actor=actor,
            actor_label=actor_label,
            obj=workflow,
            changes={
                "fields": [current.fields if current else None, fields],
                "score": [current.score if current else None, score],
            },
            metadata={"version": version.version},
        )
    return version


def enrichment_workflow_save(
    *,
    slug: str,
    workflow_fields: dict[str, Any],
    settings_fields: dict[str, Any],
    sources: list[dict[str, Any]],
    fields: list[dict],
    score: dict,
    actor: Any = None,
    actor_label: str = "",
    note: str = "",
) -> list[str]:
    changes: list[str] = []
    workflow = Workflow.objects.filter(slug=slug).first()
    is_new = workflow is None
    if workflow is not None and workflow.type != WorkflowType.COMPANY_ENRICHMENT:
        raise ValueError(f"workflow {slug} exists and is a {workflow.type} workflow")
    workflow = workflow or Workflow(slug=slug, type=WorkflowType.COMPANY_ENRICHMENT)
    wanted = {
        **workflow_fields,
        "destination_object": "companies",
        "match_on": "domain",
    }
    diff = {
        k: [str(getattr(workflow, k, None)), str(v)]
        for k, v in wanted.items()
        if is_new or getattr(workflow, k) != v
    }
    if diff:
        for key, value in wanted.items():
            setattr(workflow, key, value)
        workflow.save()
        audit_event_record(
            action="workflow.created" if is_new else "workflow.changed",
            actor=actor,
            actor_label=actor_label,
            obj=workflow,
            changes=diff,
        )
        changes.append(f"workflow {slug}: {'created' if is_new else 'updated'}")
    config, _ = EnrichmentSettings.objects.get_or_create(workflow=workflow)
    setting_diff = {
        k: [str(getattr(config, k)), str(v)]
        for k, v in settings_fields.items()
        if getattr(config, k) != v
    }
    if setting_diff:
        for key, value in settings_fields.items():
            setattr(config, key, value)
        config.save()
        audit_event_record(
            action="enrichment.settings_changed",
            actor=actor,
            actor_label=actor_label,
            obj=workflow,
            changes=setting_diff,
        )
        changes.append(f"workflow {slug}: enrichment settings updated")
    if _sources_save(workflow, sources):
        audit_event_record(
            action="enrichment.sources_changed",
            actor=actor,
            actor_label=actor_label,
            obj=workflow,
            metadata={"sources": [s["name"] for s in sources]},
        )
        changes.append(f"workflow {slug}: sources {', '.join(s['name'] for s in sources)}")
    before = enrichment_rules_current(workflow=workflow)
    rules = enrichment_rules_version_create(
        workflow=workflow,
        fields=fields,
        score=score,
        actor=actor,
        actor_label=actor_label,
        note=note,
    )
    if before is None or rules.pk != before.pk:
        changes.append(f"workflow {slug}: rules version {rules.version}")
    if enrichment_schedule_save(
        workflow=workflow,
        cron=config.cron,
        tz=config.timezone,
        enabled=workflow.enabled and config.select_mode != "on_demand",
    ):
        changes.append(f"workflow {slug}: schedule {config.cron} ({config.timezone})")
    return changes


def _sources_save(workflow: Workflow, sources: list[dict[str, Any]]) -> bool:
    current = [
        {
            "name": s.name,
            "connection_id": s.connection_id,
            "daily_call_budget": s.daily_call_budget,
            "monthly_credit_budget": s.monthly_credit_budget,
            "position": s.position,
        }
        for s in workflow.enrichment_sources.order_by("position")
    ]
    if current == sources:
        return False
    workflow.enrichment_sources.all().delete()
    EnrichmentSource.objects.bulk_create(
        [EnrichmentSource(workflow=workflow, **s) for s in sources]
    )
    return True
