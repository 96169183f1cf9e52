"""Quality measurements: read a finished run's records, store the figures in quality's own
tables. Nothing here writes to pipelines' tables."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from pipelines.models import RecordState, Run, RunRecord, SkipReason
from pipelines.models.runs import FINISHED_STATUSES
from quality.metrics import completeness, duplication_rate, percent
from quality.models import RunQuality
from quality.selectors import quality_rules_required_fields

_FORMAT_CODES = {"invalid", "format"}


def _required_fields(run: Run) -> list[str]:
    rules = run.mapping_version.rules if run.mapping_version_id else []
    fields = [r["to"] for r in rules if r.get("required")]
    fields += quality_rules_required_fields(workflow_id=run.workflow_id)
    return sorted(set(fields))


def run_quality_measure(*, run_id: int) -> RunQuality:
    """Completeness, consistency and duplication of one run's records (docs/quality.md).
    Records skipped as unchanged or suppressed are not in scope: they were not looked at."""
    run = Run.objects.select_related("mapping_version").get(pk=run_id)
    fields = _required_fields(run)
    rows = RunRecord.objects.filter(run_id=run_id).exclude(
        state=RecordState.SKIPPED, skip_reason__in=[SkipReason.UNCHANGED, SkipReason.SUPPRESSED]
    )
    filled = in_scope = records = well_formed = errors = warnings = 0
    keys: list[str] = []
    for values, raw_errors, match_key in rows.values_list("values", "errors", "match_key").iterator(
        chunk_size=2000
    ):
        records += 1
        part, whole = completeness([values or {}], fields)
        filled, in_scope = filled + part, in_scope + whole
        codes = [e.get("code") for e in raw_errors or [] if isinstance(e, dict)]
        well_formed += not any(code in _FORMAT_CODES for code in codes)
        severities = [e.get("severity", "error") for e in raw_errors or [] if isinstance(e, dict)]
        errors += severities.count("error")
        warnings += severities.count("warning")
        keys.append(match_key)
    duplication, _groups = duplication_rate(keys)
    quality, _ = RunQuality.objects.update_or_create(
        run=run,
        defaults={
            "workflow_id": run.workflow_id,
            "measured_at": run.finished_at or timezone.now(),
            "records": records,
            "completeness": percent(filled, in_scope),
            "consistency": percent(well_formed, records),
            "duplication": duplication,
            "rule_errors": errors,
            "rule_warnings": warnings,
        },
    )
    return quality


def run_quality_measure_pending(*, limit: int = 50) -> int:
    """Measure finished runs not measured yet, newest first (the per-minute beat task)."""
    # Bounded to the last two days: the (status) index narrows it, and a run older than
    # that which was never measured is measured by `run_quality_measure` on demand.
    since = timezone.now() - timedelta(days=2)
    measured = RunQuality.objects.filter(measured_at__gte=since).values("run_id")
    pending = (
        Run.objects.filter(status__in=FINISHED_STATUSES, finished_at__gte=since)
        .exclude(pk__in=measured)
        .order_by("-id")
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for run_id in list(pending):
        run_quality_measure(run_id=run_id)
        count += 1
    return count
