"""The end of an enrichment run: counters from record states, status, the cursor, Slack."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from enrichment.models import EnrichmentRun, EnrichmentSettings
from pipelines.models import DeadLetter, RecordState, Run, RunStatus
from pipelines.selectors import run_record_state_counts


def _newest_createdate(run: Run) -> datetime | None:
    newest = None
    for raw in run.records.values_list("raw", flat=True).iterator(chunk_size=1000):
        value = ((raw or {}).get("properties") or {}).get("createdate")
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            continue
        newest = moment if newest is None or moment > newest else newest
    return newest


def _written_anyway(run: Run) -> bool:
    """A record dead-lettered for one source may still have had the others' values written:
    then the run is partial, not a failure."""
    return DeadLetter.objects.filter(run=run, stage="enrich").exclude(payload__written={}).exists()


def enrichment_run_finish(*, run_id: int) -> Run:
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("workflow").get(pk=run_id)
        if run.is_finished:
            return run
        info = EnrichmentRun.objects.get(run=run)
        counts = run_record_state_counts(run_id=run.pk)
        now = timezone.now()
        run.succeeded = counts.get(RecordState.LOADED, 0)
        run.dead_lettered = counts.get(RecordState.DEAD_LETTERED, 0)
        run.skipped = counts.get(RecordState.SKIPPED, 0)
        run.records_in = sum(counts.values())
        run.failed = DeadLetter.objects.filter(run=run, stage="load").count()
        if run.dead_lettered == 0:
            run.status = RunStatus.SUCCESS
        elif run.succeeded == 0 and run.skipped == 0 and not _written_anyway(run):
            run.status = RunStatus.FAILURE
        else:
            run.status = RunStatus.PARTIAL
        complete = info.expected_total is None or info.expected_total == info.received_total
        dry_run = bool(info.request.get("dry_run"))
        run.status_message = ("dry run: nothing written; " if dry_run else "") + (
            "" if complete else "incomplete selection; cursor not advanced"
        )
        run.finished_at = now
        run.duration_ms = round((now - (run.started_at or run.created_at)).total_seconds() * 1000)
        run.save()
        incremental = info.cursor_from is not None and not dry_run
        if incremental and complete and run.status != RunStatus.FAILURE:
            newest = _newest_createdate(run)
            info.cursor_to = max(newest, info.cursor_from) if newest else info.cursor_from
            EnrichmentSettings.objects.filter(workflow=run.workflow).update(cursor=info.cursor_to)
            info.save(update_fields=["cursor_to"])
        audit_event_record(
            action="run.finished",
            actor_label=f"pipeline:{run.workflow.slug}",
            obj=run,
            metadata={
                k: getattr(run, k)
                for k in ("status", "records_in", "succeeded", "dead_lettered", "skipped")
            },
        )
    if not dry_run:
        from enrichment.notify import enrichment_run_announce
        from enrichment.people import people_find

        people_find(run_id=run.pk)
        enrichment_run_announce(run_id=run.pk)
    return Run.objects.get(pk=run.pk)
