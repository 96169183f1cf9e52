"""Intake and staging: a run is created, and every input becomes a RunRecord with lineage,
already transformed and validated in the same streaming pass.

Staging writes with COPY on PostgreSQL and bulk_create elsewhere, in chunks: COPY stages about
150k rows/s against bulk_create's 18.7k (reliability-security.md §5.2, measured), which is what
leaves time for the transform. A run is staged in one transaction: a crash half-way leaves no
half-staged run, and the next attempt starts clean.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.csv_files import CsvFormat, CsvRefused, csv_detect, csv_rows
from pipelines.mapping import mapping_rules, record_transform
from pipelines.models import (
    DeadLetter,
    InboundEvent,
    RecordSource,
    RecordState,
    Run,
    RunRecord,
    RunStatus,
    RunTrigger,
    SkipReason,
    Workflow,
)
from pipelines.privacy import emails_suppressed
from pipelines.selectors import field_mapping_current
from pipelines.services.deliverability import email_domain_accepts_mail
from quality.columns import ColumnMatch, match_columns

CHUNK = 5_000


@dataclass
class CsvInspection:
    format: CsvFormat
    columns: ColumnMatch
    warnings: list[str] = field(default_factory=list)


@dataclass
class StagedInput:
    raw: dict[str, Any]
    source: str
    row_number: int | None = None
    event_id: str = ""
    inbound_event_id: int | None = None
    reprocessed_from_id: int | None = None
    overrides: dict[str, Any] | None = None  # edited dead-letter payload (property → value)


def csv_inspect(*, workflow: Workflow, file: IO[bytes]) -> CsvInspection:
    """Encoding, delimiter, header → rule matching and warnings. Raises CsvRefused for a file
    that is not CSV, has no header, or lacks a required column. Writes nothing."""
    version = field_mapping_current(workflow=workflow)
    if version is None:
        raise CsvRefused(f"Workflow {workflow.slug} has no field mapping yet; create one first.")
    fmt = csv_detect(file)
    columns = match_columns(fmt.headers, mapping_rules(version.rules))
    if columns.missing_required:
        raise CsvRefused(
            "The file lacks required column(s): " + ", ".join(columns.missing_required)
            + f". Columns found: {', '.join(fmt.headers)}."
        )
    warnings = []
    if columns.unmapped_headers:
        warnings.append("Not mapped (kept with each record, not sent): " + ", ".join(columns.unmapped_headers))
    if columns.missing_optional:
        warnings.append("Mapped but not in the file (left unchanged in HubSpot): " + ", ".join(columns.missing_optional))
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
    """A pending run pinned to the workflow's current mapping version."""
    if not workflow.enabled:
        raise ValueError(f"Workflow {workflow.slug} is disabled")
    version = field_mapping_current(workflow=workflow)
    if version is None:
        raise ValueError(f"Workflow {workflow.slug} has no field mapping yet")
    return Run.objects.create(
        workflow=workflow, trigger=trigger, parent=parent, mapping_version=version,
        triggered_by=actor if getattr(actor, "pk", None) else None,
        triggered_by_label=(actor_label or (actor.get_username() if actor is not None else "system"))[:200],
    )


def run_create_csv(
    *, workflow: Workflow, file: IO[bytes], filename: str, actor: Any = None, actor_label: str = "",
    dispatch: bool = True,
) -> Run:
    """Refuse a bad file before writing anything; else keep the file with the run (lineage,
    under MEDIA_ROOT) and hand the staging to Celery once the transaction commits."""
    inspection = csv_inspect(workflow=workflow, file=file)
    file.seek(0)
    with transaction.atomic():
        run = run_create(workflow=workflow, trigger=RunTrigger.CSV, actor=actor, actor_label=actor_label)
        run.input_filename = filename[:255]
        run.file_encoding = inspection.format.encoding
        run.file_delimiter = inspection.format.delimiter
        run.input_file.save(filename, File(file, name=filename), save=False)  # copied in chunks
        run.save()
        audit_event_record(
            action="run.started", actor=actor, actor_label=actor_label, obj=run,
            metadata={"trigger": "csv", "file": run.input_filename, "workflow": workflow.slug,
                      "warnings": inspection.warnings},
        )
        if dispatch:
            from pipelines.tasks import run_prepare_task

            transaction.on_commit(lambda: run_prepare_task.delay(run.pk))
    return run


# --- staging ----------------------------------------------------------------------------------


def _csv_inputs(run: Run) -> Iterator[StagedInput]:
    with run.input_file.open("rb") as binary:
        fmt = csv_detect(binary)
        for number, row in csv_rows(binary, fmt):
            yield StagedInput(raw=row, source=RecordSource.CSV, row_number=number)


def _event_inputs(run: Run) -> Iterator[StagedInput]:
    for event in InboundEvent.objects.filter(run=run).order_by("id").iterator(chunk_size=500):
        items = event.payload if isinstance(event.payload, list) else [event.payload]
        for index, item in enumerate(items, start=1):
            yield StagedInput(
                raw=item if isinstance(item, dict) else {"value": item}, source=RecordSource.WEBHOOK,
                row_number=index if len(items) > 1 else None,
                event_id=event.event_id or event.dedupe_key, inbound_event_id=event.pk,
            )


def _reprocess_inputs(run: Run) -> Iterator[StagedInput]:
    letters = DeadLetter.objects.filter(resolved_in_run=run).select_related("record").order_by("id")
    for letter in letters.iterator(chunk_size=500):
        yield StagedInput(
            raw=letter.source_row, source=RecordSource.REPROCESS, row_number=letter.record.row_number,
            event_id=letter.record.event_id, reprocessed_from_id=letter.pk,
            overrides=letter.payload if letter.original_payload is not None else None,
        )


def run_inputs(*, run: Run) -> Iterator[StagedInput]:
    if run.trigger == RunTrigger.CSV:
        return _csv_inputs(run)
    if run.trigger == RunTrigger.WEBHOOK:
        return _event_inputs(run)
    if run.trigger == RunTrigger.REPROCESS:
        return _reprocess_inputs(run)
    raise ValueError(f"run {run.pk}: no staging source for trigger {run.trigger}")


def _with_overrides(staged: StagedInput, rules: list, columns: dict[str, str] | None) -> dict[str, Any]:
    """An edited dead letter: put each edited property back into the source column its rule
    reads, so the edit goes through the same transforms and validation as the original."""
    row = dict(staged.raw)
    for rule in rules:
        if rule.target in (staged.overrides or {}):
            row[(columns or {}).get(rule.source, rule.source)] = staged.overrides[rule.target]
    return row


def run_stage(*, run_id: int) -> Run:
    """Stage, transform and validate every input of a pending run, in one transaction.

    Idempotent: a run already staged is returned as is; a concurrent call finds the run
    locked and leaves (skip_locked), so a re-dispatched prepare never stages twice.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None or run.staged_at is not None or run.is_finished:
            return run or Run.objects.get(pk=run_id)
        started = time.perf_counter()
        workflow = run.workflow
        rules = mapping_rules(run.mapping_version.rules)
        columns = None
        if run.trigger == RunTrigger.CSV:
            with run.input_file.open("rb") as binary:
                columns = match_columns(csv_detect(binary).headers, rules).matched
        now = timezone.now()
        transform_seconds = 0.0
        position = 0
        writer = _RecordWriter(run_id=run.pk, now=now, check_suppression=workflow.match_on == "email")
        mx_cache: dict[str, bool] = {}
        for staged in run_inputs(run=run):
            position += 1
            tick = time.perf_counter()
            row = _with_overrides(staged, rules, columns) if staged.overrides else staged.raw
            record = record_transform(row, rules, match_on=workflow.match_on, columns=columns)
            if staged.overrides:
                targets = {r.target for r in rules}
                record.values.update({k: v for k, v in staged.overrides.items() if k not in targets})
            state, skip_reason = RecordState.TRANSFORMED, ""
            if not record.ok:
                state = RecordState.DEAD_LETTERED
            elif workflow.mx_check and workflow.match_on == "email":
                domain = record.match_key.rpartition("@")[2]
                if domain not in mx_cache:
                    mx_cache[domain] = email_domain_accepts_mail(domain=domain)
                if not mx_cache[domain]:
                    record.errors.append({"source": "email", "target": "email", "code": "undeliverable",
                                          "message": "the email's domain does not accept mail (no MX or A record)"})
                    state = RecordState.DEAD_LETTERED
            transform_seconds += time.perf_counter() - tick
            writer.add(staged, position, record, state, skip_reason)
        writer.flush()
        _suppressed_inputs_blank(run=run, writer=writer)
        stage_ms = round((time.perf_counter() - started - transform_seconds) * 1000)
        if run.trigger == RunTrigger.WEBHOOK:
            InboundEvent.objects.filter(run=run, processed_at__isnull=True).update(processed_at=now)
        run.records_in = position
        run.staged_at = timezone.now()
        run.started_at = run.started_at or now
        run.status = RunStatus.RUNNING
        run.timings = {**run.timings, "stage": stage_ms, "transform": round(transform_seconds * 1000)}
        run.save(update_fields=["records_in", "staged_at", "started_at", "status", "timings"])
    return run


def _suppressed_inputs_blank(*, run: Run, writer: _RecordWriter) -> None:
    """A person erased earlier arrived again: blank them in the file or webhook events kept
    with the run too, so suppression means nothing new is kept about them."""
    from pipelines.privacy_stores import import_file_rows_blank, inbound_event_items_erase

    if writer.suppressed_items:
        inbound_event_items_erase(items=writer.suppressed_items)
    if writer.suppressed_emails and run.trigger == RunTrigger.CSV:
        import_file_rows_blank(run=run, emails=writer.suppressed_emails)


class _RecordWriter:
    """Buffers staged records and writes them CHUNK at a time."""

    COLUMNS = ("run_id", "position", "source", "row_number", "event_id", "inbound_event_id",
               "reprocessed_from_id", "raw", "values", "extras", "errors", "match_key", "state",
               "skip_reason", "hubspot_id", "created_at", "updated_at")

    def __init__(self, *, run_id: int, now: Any, check_suppression: bool) -> None:
        self.run_id = run_id
        self.now = now
        self.check_suppression = check_suppression
        self.rows: list[tuple] = []
        self.suppressed_emails: set[str] = set()
        self.suppressed_items: dict[int, set[int]] = {}  # inbound event id → item numbers

    def add(self, staged: StagedInput, position: int, record: Any, state: str, skip_reason: str) -> None:
        self.rows.append((
            self.run_id, position, staged.source, staged.row_number, staged.event_id[:200],
            staged.inbound_event_id, staged.reprocessed_from_id, staged.raw, record.values,
            record.extras, record.errors, record.match_key[:320], state, skip_reason, "",
            self.now, self.now,
        ))
        if len(self.rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        if self.check_suppression:
            # Erased people are skipped, not sent (audit.privacy); one query per chunk.
            state_at, key_at = 12, 11
            keys = [row[key_at] for row in self.rows if row[state_at] == RecordState.TRANSFORMED]
            suppressed = emails_suppressed(keys)
            if suppressed:
                self.rows = [
                    self._suppressed(row) if row[state_at] == RecordState.TRANSFORMED and row[key_at] in suppressed
                    else row
                    for row in self.rows
                ]
        if connection.vendor == "postgresql":
            self._copy()
        else:
            RunRecord.objects.bulk_create(
                [RunRecord(**dict(zip(self.COLUMNS, row, strict=True))) for row in self.rows], batch_size=1000
            )
        self.rows = []

    def _suppressed(self, row: tuple) -> tuple:
        """Skipped, and nothing about the person kept: the record says only that someone
        suppressed was skipped. The copies in the input (file, webhook event) are blanked by
        run_stage once staging is done (``suppressed_inputs``)."""
        values = dict(zip(self.COLUMNS, row, strict=True))
        self.suppressed_emails.add(values["match_key"])
        if values["inbound_event_id"]:
            self.suppressed_items.setdefault(values["inbound_event_id"], set()).add(values["row_number"] or 1)
        values.update(raw={}, values={}, extras={}, errors=[], match_key="", event_id="",
                      state=RecordState.SKIPPED, skip_reason=SkipReason.SUPPRESSED)
        return tuple(values[c] for c in self.COLUMNS)

    def _copy(self) -> None:
        table = RunRecord._meta.db_table
        statement = f"COPY {table} ({', '.join(self.COLUMNS)}) FROM STDIN"  # noqa: S608 - fixed names
        # One encoder for the whole chunk: json.dumps with keyword arguments builds a new
        # JSONEncoder on every call.
        dumps = json.JSONEncoder(default=str, check_circular=False, ensure_ascii=False).encode
        with connection.cursor() as cursor:
            # The psycopg 3 cursor under Django's wrapper, in Django's transaction.
            with cursor.cursor.copy(statement) as copy:
                for row in self.rows:
                    # Columns 7-10 (raw, values, extras, errors) are JSON; unrolled because this
                    # loop runs once per staged row (a generator here cost ~4 µs a row).
                    copy.write_row((
                        *row[:7], dumps(row[7]), dumps(row[8]),
                        dumps(row[9]) if row[9] else "{}", dumps(row[10]) if row[10] else "[]",
                        *row[11:],
                    ))


__all__ = ["CsvInspection", "CsvRefused", "StagedInput", "csv_inspect", "run_create", "run_create_csv", "run_stage"]
