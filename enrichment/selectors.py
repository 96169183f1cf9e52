"""Reads for enrichment: current rules, budgets left, run figures for the screens."""

from __future__ import annotations

from django.db.models import Sum
from django.utils import timezone

from enrichment.models import EnrichmentRules, EnrichmentSource, SourceUsage
from enrichment.sources import Budget
from pipelines.models import Workflow


def enrichment_rules_current(*, workflow: Workflow) -> EnrichmentRules | None:
    return EnrichmentRules.objects.filter(workflow=workflow).order_by("-version").first()


def usage_spent(*, connection_id: int) -> tuple[int, int, int]:
    """(calls today, credits this month, people credits this month) for a connection."""
    today = timezone.now().date()
    calls = (
        SourceUsage.objects.filter(connection_id=connection_id, day=today)
        .values_list("calls", flat=True)
        .first()
        or 0
    )
    month = SourceUsage.objects.filter(
        connection_id=connection_id, day__gte=today.replace(day=1)
    ).aggregate(credits=Sum("credits"), people=Sum("people_credits"))
    return calls, month["credits"] or 0, month["people"] or 0


def source_budget(*, source: EnrichmentSource) -> Budget:
    """What the source may still spend: its daily calls and monthly credits, less what every
    run spent already (shared by all runs and workers through SourceUsage)."""
    calls, credits, _people = usage_spent(connection_id=source.connection_id)
    return Budget(
        calls=None
        if source.daily_call_budget is None
        else max(0, source.daily_call_budget - calls),
        credits=None
        if source.monthly_credit_budget is None
        else max(0, source.monthly_credit_budget - credits),
    )


SUMMARY_KEYS = (
    "run_id",
    "status",
    "records_in",
    "succeeded",
    "dead_lettered",
    "skipped",
    "cache_hits",
    "provider_calls",
    "credits_spent",
    "duration_ms",
)


def enrichment_run_summary(*, run_id: int) -> dict:
    """Exactly the figures `enrich_companies --json` prints."""
    from enrichment.models import EnrichmentRun
    from pipelines.models import Run

    run = Run.objects.get(pk=run_id)
    info = EnrichmentRun.objects.get(run=run)
    return {
        "run_id": run.pk,
        "status": run.status,
        "records_in": run.records_in,
        "succeeded": run.succeeded,
        "dead_lettered": run.dead_lettered,
        "skipped": run.skipped,
        "cache_hits": info.cache_hits,
        "provider_calls": info.provider_calls,
        "credits_spent": info.credits_spent,
        "duration_ms": run.duration_ms or 0,
    }
