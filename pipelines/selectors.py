"""Reads for the admin screens, the wizard's progress bar and the services."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from pipelines.models import (
    DeadLetter,
    FieldMappingVersion,
    InboundEvent,
    RecordState,
    Run,
    RunBatch,
    RunRecord,
    RunTrigger,
    Workflow,
)
from pipelines.models.runs import BATCH_STATES_OPEN


def field_mapping_current(*, workflow: Workflow) -> FieldMappingVersion | None:
    """The workflow's mapping is its latest version."""
    return workflow.mapping_versions.order_by("-version").first()


def workflow_by_slug(*, slug: str) -> Workflow | None:
    return (
        Workflow.objects.select_related("source_connection", "destination_connection")
        .filter(slug=slug)
        .first()
    )


def run_progress(*, run_id: int) -> dict[str, Any]:
    """What the wizard's progress bar polls: status, counters and a percent.

    Percent counts records in a terminal state (loaded, dead-lettered, skipped) over records
    in; while staging (records_in still 0) it is 0.
    """
    run = Run.objects.get(pk=run_id)
    done = (
        RunRecord.objects.filter(
            run_id=run_id,
            state__in=[RecordState.LOADED, RecordState.DEAD_LETTERED, RecordState.SKIPPED],
        ).count()
        if not run.is_finished
        else run.records_in
    )
    percent = (
        100 if run.is_finished else (round(100 * done / run.records_in) if run.records_in else 0)
    )
    label = f"{done:,} of {run.records_in:,} records"
    if run.staged_at is None and not run.is_finished:
        label = run_waiting_for(run=run)
    return {
        "run_id": run.pk,
        "status": run.status,
        "status_message": run.status_message,
        "records_in": run.records_in,
        "processed": done,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "dead_lettered": run.dead_lettered,
        "skipped": run.skipped,
        "batches_total": run.batches_total,
        "batches_done": run.batches_done,
        "percent": min(percent, 100),
        "finished": run.is_finished,
        "label": label,
    }


def run_waiting_for(*, run: Run) -> str:
    """What a run that has no records yet is waiting for, in words: a CSV run's file being
    read (rows so far), or the dead letters / webhook events a worker has not staged yet."""
    if run.trigger == RunTrigger.CSV:
        rows = run.chunks.aggregate(
            total=Sum("rows"), staged=Sum("rows", filter=Q(staged_at__isnull=False))
        )
        if rows["total"]:
            return f"Reading the file: {rows['staged'] or 0:,} of {rows['total']:,} rows"
        return "Reading the file…"
    if run.trigger == RunTrigger.REPROCESS:
        letters = DeadLetter.objects.filter(resolved_in_run=run).count()
        return (
            f"Waiting for a worker to pick up {letters:,} dead letter{'s' if letters != 1 else ''}"
            " to reprocess"
        )
    if run.trigger == RunTrigger.WEBHOOK:
        events = InboundEvent.objects.filter(run=run).count()
        return f"Waiting for a worker to pick up {events:,} webhook request{'s' if events != 1 else ''}"
    return "Waiting for a worker to start it"


def run_summary(*, run: Run) -> dict[str, Any]:
    """The shape `import_csv --json` prints."""
    return {
        "run_id": run.pk,
        "status": run.status,
        "records_in": run.records_in,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "dead_lettered": run.dead_lettered,
        "skipped": run.skipped,
        "duration_ms": run.duration_ms,
    }


def run_record_state_counts(*, run_id: int) -> dict[str, int]:
    rows = RunRecord.objects.filter(run_id=run_id).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


def run_batches_open(*, run_id: int) -> QuerySet[RunBatch]:
    """The run's batches still to load (pending or leased): the run finishes when none is left."""
    return RunBatch.objects.filter(run_id=run_id, state__in=BATCH_STATES_OPEN)
