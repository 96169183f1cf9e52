"""Reads for the admin screens, the wizard's progress bar and the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection as db_connection
from django.db.models import Count, Q, QuerySet, Sum

from audit.models import AuditEvent
from integrations.hot_path import columns_select, instance_from_row
from integrations.models import Connection
from pipelines.models import (
    DeadLetter,
    FieldMappingVersion,
    InboundEvent,
    RecordState,
    Run,
    RunBatch,
    RunChunk,
    RunRecord,
    RunTrigger,
    Workflow,
)
from pipelines.models.runs import BATCH_STATES_OPEN, FINISHED_STATUSES

# The audit action of a Slack message that was not delivered (pipelines/services/notifications.py).
NOTIFICATION_FAILED = "notification.failed"


def notifications_failed_count(*, since: datetime) -> int:
    """Slack notifications (run summaries, rep messages, routing alerts) not delivered since
    ``since``: the number an alert rule watches."""
    return AuditEvent.objects.filter(action=NOTIFICATION_FAILED, created_at__gte=since).count()


def field_mapping_current(*, workflow: Workflow) -> FieldMappingVersion | None:
    """The workflow's mapping is its latest version."""
    return workflow.mapping_versions.order_by("-version").first()


_INTAKE_WORKFLOW = columns_select(Workflow, ["id", "slug", "enabled", "source_connection_id"])
_INTAKE_CONNECTION = columns_select(
    Connection, ["id", "name", "provider", "auth_type", "options", "token"]
)


def workflow_for_intake(*, slug: str) -> Workflow | None:
    """The workflow at a webhook address with its source connection loaded (None without
    one): what the Clay intake checks, in one statement that is not compiled per request
    (integrations.hot_path.py). Other fields load when read."""
    quote = db_connection.ops.quote_name
    # Only the models' own table and column names are interpolated; the slug is a parameter.
    sql = (
        f"SELECT {_INTAKE_WORKFLOW.sql('w')}, {_INTAKE_CONNECTION.sql('c')} "  # noqa: S608
        f"FROM {quote(Workflow._meta.db_table)} w "
        f"JOIN {quote(Connection._meta.db_table)} c "
        f"ON c.{quote('id')} = w.{quote(Workflow._meta.get_field('source_connection').column)} "
        f"WHERE w.{quote(Workflow._meta.get_field('slug').column)} = %s"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [slug])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_INTAKE_WORKFLOW.fields)
    workflow = instance_from_row(_INTAKE_WORKFLOW, row[:split], db=db_connection)
    workflow.source_connection = instance_from_row(
        _INTAKE_CONNECTION, row[split:], db=db_connection
    )
    return workflow


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
        "stalled": run.stalled_at is not None,
        "stall_reason": run.stall_reason,
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


def runs_stalled() -> QuerySet[Run]:
    """Unfinished runs with work pending and no progress for PIPELINE_RUN_STALLED_SECONDS
    (marked by the runs sweeper; cleared when they move or finish): "sync stopped". Each has
    ``stalled_at`` (when it was marked) and ``stall_reason`` (the last error, or that no worker
    is picking its work up)."""
    return (
        Run.objects.filter(stalled_at__isnull=False)
        .exclude(status__in=FINISHED_STATUSES)
        .select_related("workflow")
        .order_by("stalled_at")
    )


def run_rows_staged(*, run_id: int) -> tuple[int, int]:
    """(rows staged, rows in the file) of a CSV run's chunks; (0, 0) before planning."""
    rows = RunChunk.objects.filter(run_id=run_id).aggregate(
        total=Sum("rows"), staged=Sum("rows", filter=Q(staged_at__isnull=False))
    )
    return rows["staged"] or 0, rows["total"] or 0
