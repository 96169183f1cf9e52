"""Intake and staging: a run is created, and every input becomes a RunRecord with lineage,
already transformed and validated in the same streaming pass.

A CSV run is refused before anything is written if its file is bad, then staged in chunks
that workers share (pipelines.services.chunks); webhook and reprocess runs are small and are
staged in one pass, in one transaction. Either way a crash half-way leaves no half-staged
chunk or run, and the next attempt goes on from what was committed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.csv_files import CsvFormat, CsvRefused, csv_detect
from pipelines.enqueue import RUN_PREPARE, enqueue_on_commit
from pipelines.mapping import columns_match, mapping_rules
from pipelines.models import (
    DeadLetter,
    InboundEvent,
    RecordSource,
    Run,
    RunChunk,
    RunStatus,
    RunTrigger,
    Workflow,
    WorkflowType,
)
from pipelines.selectors import field_mapping_current
from pipelines.services.chunks import (
    csv_suppressed_rows_blank,
    run_chunk_stage,
    run_chunks_dispatch,
    run_chunks_plan,
    run_chunks_staged,
)
from pipelines.services.staged_records import (
    RecordWriter,
    StagedInput,
    inputs_stage,
    suppressed_event_items_blank,
)
from quality.columns import ColumnMatch


class CsvColumnsMissing(CsvRefused):
    """A required column was not found; the wizard lets the admin pick it from ``headers``."""

    def __init__(self, message: str, *, headers: list[str], columns: ColumnMatch) -> None:
        super().__init__(message)
        self.headers = headers
        self.columns = columns


@dataclass
class CsvInspection:
    format: CsvFormat
    columns: ColumnMatch
    warnings: list[str] = field(default_factory=list)


def csv_inspect(*, workflow: Workflow, file: IO[bytes]) -> CsvInspection:
    """Encoding, delimiter, header → rule matching and warnings. Raises CsvRefused for a file
    that is not CSV, has no header, or lacks a required column. Writes nothing."""
    version = field_mapping_current(workflow=workflow)
    if version is None:
        raise CsvRefused(f"Workflow {workflow.slug} has no field mapping yet; create one first.")
    fmt = csv_detect(file)
    columns = columns_match(fmt.headers, version.rules)
    if columns.missing_required:
        raise CsvColumnsMissing(
            "The file lacks required column(s): "
            + ", ".join(columns.missing_required)
            + f". Columns found: {', '.join(fmt.headers)}.",
            headers=fmt.headers,
            columns=columns,
        )
    warnings = []
    if columns.unmapped_headers:
        warnings.append(
            "Not mapped (kept with each record, not sent): " + ", ".join(columns.unmapped_headers)
        )
    if columns.missing_optional:
        warnings.append(
            "Mapped but not in the file (left unchanged in HubSpot): "
            + ", ".join(columns.missing_optional)
        )
    renamed = {s: h for s, h in columns.matched.items() if s != h}
    if renamed:
        warnings.append("Matched by alias: " + ", ".join(f"{h} → {s}" for s, h in renamed.items()))
    return CsvInspection(format=fmt, columns=columns, warnings=warnings)


def run_create(
    *,
    workflow: Workflow,
    trigger: str,
    actor: Any = None,
    actor_label: str = "",
    parent: Run | None = None,
) -> Run:
    """A pending run pinned to the workflow's current mapping version.

    MQL routing has no field mapping (its rules are the routing configuration) and its runs
    record a routing attempt that is already happening, so neither check applies to it."""
    routing = workflow.type == WorkflowType.MQL_ROUTING
    if not workflow.enabled and not routing:
        raise ValueError(f"Workflow {workflow.slug} is disabled")
    version = None if routing else field_mapping_current(workflow=workflow)
    if version is None and not routing:
        raise ValueError(f"Workflow {workflow.slug} has no field mapping yet")
    return Run.objects.create(
        workflow=workflow,
        trigger=trigger,
        parent=parent,
        mapping_version=version,
        triggered_by=actor if getattr(actor, "pk", None) else None,
        triggered_by_label=(
            actor_label or (actor.get_username() if actor is not None else "system")
        )[:200],
    )


def run_create_csv(
    *,
    workflow: Workflow,
    file: IO[bytes],
    filename: str,
    actor: Any = None,
    actor_label: str = "",
    dispatch: bool = True,
) -> Run:
    """Refuse a bad file before writing anything; else keep the file with the run (lineage,
    under MEDIA_ROOT) and hand the staging to Celery once the transaction commits."""
    inspection = csv_inspect(workflow=workflow, file=file)
    file.seek(0)
    with transaction.atomic():
        run = run_create(
            workflow=workflow, trigger=RunTrigger.CSV, actor=actor, actor_label=actor_label
        )
        run.input_filename = filename[:255]
        run.file_encoding = inspection.format.encoding
        run.file_delimiter = inspection.format.delimiter
        run.input_file.save(filename, File(file, name=filename), save=False)  # copied in chunks
        run.save()
        audit_event_record(
            action="run.started",
            actor=actor,
            actor_label=actor_label,
            obj=run,
            metadata={
                "trigger": "csv",
                "file": run.input_filename,
                "workflow": workflow.slug,
                "warnings": inspection.warnings,
            },
        )
        if dispatch:
            enqueue_on_commit(RUN_PREPARE, run.pk)
    return run


# --- staging ----------------------------------------------------------------------------------


def _event_inputs(run: Run) -> Iterator[StagedInput]:
    for event in InboundEvent.objects.filter(run=run).order_by("id").iterator(chunk_size=500):
        items = event.payload if isinstance(event.payload, list) else [event.payload]
        for index, item in enumerate(items, start=1):
            yield StagedInput(
                raw=item if isinstance(item, dict) else {"value": item},
                source=RecordSource.WEBHOOK,
                row_number=index if len(items) > 1 else None,
                event_id=event.event_id or event.dedupe_key,
                inbound_event_id=event.pk,
            )


def _reprocess_inputs(run: Run) -> Iterator[StagedInput]:
    """Each letter's source row, its columns matched as its own file's were (by alias too),
    so a letter reprocessed in bulk is built exactly as it was at import, or as a single
    edit-and-reprocess builds it; a run may mix letters of files with different headers."""
    rules = run.mapping_version.rules
    letters = DeadLetter.objects.filter(resolved_in_run=run).select_related("record").order_by("id")
    for letter in letters.iterator(chunk_size=500):
        columns = columns_match(list(letter.source_row or {}), rules).matched
        yield StagedInput(
            raw=letter.source_row,
            source=RecordSource.REPROCESS,
            row_number=letter.record.row_number,
            event_id=letter.record.event_id,
            reprocessed_from_id=letter.pk,
            overrides=letter.payload if letter.original_payload is not None else None,
            columns=columns,
        )


def run_inputs(*, run: Run) -> Iterator[StagedInput]:
    """The inputs of a webhook or reprocess run (a CSV run is staged in chunks)."""
    if run.trigger == RunTrigger.WEBHOOK:
        return _event_inputs(run)
    if run.trigger == RunTrigger.REPROCESS:
        return _reprocess_inputs(run)
    raise ValueError(f"run {run.pk}: no single-pass staging source for trigger {run.trigger}")


def run_stage(*, run_id: int, dispatch: bool = False) -> Run:
    """Stage, transform and validate every input of a pending run. Idempotent: a run
    already staged is returned as it is.

    A CSV run is planned into chunks (pipelines.services.chunks); with ``dispatch`` each chunk
    goes to its own task and this returns before they finish (the last one calls run_prepare
    again), else they are staged here one after another. A webhook or reprocess run is small
    and staged in one pass, in one transaction.
    """
    run = Run.objects.get(pk=run_id)
    if run.staged_at is not None or run.is_finished:
        return run
    if run.trigger == RunTrigger.CSV:
        return _csv_run_stage(run_id=run_id, dispatch=dispatch)
    return _single_pass_stage(run_id=run_id)


def _csv_run_stage(*, run_id: int, dispatch: bool) -> Run:
    run = csv_run_plan(run_id=run_id)  # CsvRefused: nothing written, the caller fails the run
    if run.staged_at is not None or run.is_finished:
        return run
    if dispatch:
        with transaction.atomic():
            run_chunks_dispatch(run_id=run_id)
    else:
        for chunk_id in RunChunk.objects.filter(run_id=run_id, staged_at__isnull=True).values_list(
            "pk", flat=True
        ):
            run_chunk_stage(chunk_id=chunk_id, wake_loader=False)
    return run_staging_finish(run_id=run_id)


def csv_run_plan(*, run_id: int) -> Run:
    """Cut a CSV run's file into chunks, once, under the run's row lock (a concurrent call
    finds the run locked and leaves). Raises CsvRefused for a file that cannot be read; then
    nothing is written."""
    with transaction.atomic():
        run = Run.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None:  # another worker is planning or finishing it
            return Run.objects.get(pk=run_id)
        if run.staged_at is None and not run.is_finished and not run.chunks.exists():
            tick = time.perf_counter()
            run_chunks_plan(run=run)
            run.timings = {**run.timings, "plan": round((time.perf_counter() - tick) * 1000)}
            run.started_at = run.started_at or timezone.now()
            run.save(update_fields=["timings", "started_at"])
    return run


def run_staging_finish(*, run_id: int) -> Run:
    """Once every chunk of a CSV run is staged: count its records, blank suppressed people in
    its file, and mark it staged. Called after each chunk; only the call that finds no chunk
    left does anything (the run's row lock orders them)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.staged_at is not None or run.is_finished:
            return run
        done, timings, records = run_chunks_staged(run=run)
        if not done:
            return run
        csv_suppressed_rows_blank(run=run)
        now = timezone.now()
        run.records_in = records
        run.staged_at = now
        run.started_at = run.started_at or now
        run.status = RunStatus.RUNNING
        run.timings = {**run.timings, **timings}
        run.save(update_fields=["records_in", "staged_at", "started_at", "status", "timings"])
    return run


def _single_pass_stage(*, run_id: int) -> Run:
    with transaction.atomic():
        run = Run.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None or run.staged_at is not None or run.is_finished:
            return run or Run.objects.get(pk=run_id)
        started = time.perf_counter()
        now = timezone.now()
        writer = RecordWriter(
            run_id=run.pk, now=now, check_suppression=run.workflow.match_on == "email"
        )
        tally = inputs_stage(
            inputs=enumerate(run_inputs(run=run), start=1),
            workflow=run.workflow,
            rules=mapping_rules(run.mapping_version.rules),
            columns=None,
            writer=writer,
        )
        writer.flush()
        suppressed_event_items_blank(writer=writer)
        if run.trigger == RunTrigger.WEBHOOK:
            InboundEvent.objects.filter(run=run, processed_at__isnull=True).update(processed_at=now)
        run.records_in = tally.records
        run.staged_at = timezone.now()
        run.started_at = run.started_at or now
        run.status = RunStatus.RUNNING
        stage_ms = round((time.perf_counter() - started - tally.transform_seconds) * 1000)
        run.timings = {
            **run.timings,
            "stage": stage_ms,
            "transform": round(tally.transform_seconds * 1000),
        }
        run.save(update_fields=["records_in", "staged_at", "started_at", "status", "timings"])
    return run


__all__ = [
    "CsvColumnsMissing",
    "CsvInspection",
    "CsvRefused",
    "StagedInput",
    "csv_inspect",
    "csv_run_plan",
    "run_create",
    "run_create_csv",
    "run_stage",
    "run_staging_finish",
]
