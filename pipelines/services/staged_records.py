"""Staged records: the shared per-input loop (transform, validate, MX check) and the
writer that puts the results in the database.

Used by both stagers: a CSV run's chunks (pipelines.services.chunks) and the single pass of
webhook and reprocess runs (pipelines.services.staging). Writes go out with COPY on
PostgreSQL and bulk_create elsewhere, FLUSH_ROWS at a time: COPY stages about 150k rows/s
against bulk_create's 18.7k (docs/reference/reliability.md#csv-ingest, measured), which is what leaves
time for the transform.
"""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.db import DatabaseError, connection

from pipelines.mapping import record_transform
from pipelines.models import RecordState, RunRecord, SkipReason, Workflow
from pipelines.privacy import emails_suppressed
from pipelines.services.deliverability import email_domain_accepts_mail
from quality.rules import has_blocking_error, rule_violations
from quality.selectors import quality_rule_specs
from quality.validation import CompiledMapping, MappingRule

FLUSH_ROWS = 5_000

_fallback_dumps = json.JSONEncoder(default=str, check_circular=False, ensure_ascii=False).encode


def json_text(value: Any) -> str:
    """A JSON column's text for COPY. orjson encodes a record's dicts in ~0.4 µs against the
    standard library's ~4 µs, and there are up to four per record. What orjson refuses (an
    integer past 64 bits or a non-string key in a webhook payload) goes the standard way.
    """
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _fallback_dumps(value)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Staging allocates millions of short-lived dicts and tuples, all freed by reference
    counting; meanwhile the cyclic collector re-scans every live container (the buffered
    rows, Django's own objects) each time allocations pass its threshold. Measured: 40 % of
    the transform time. Paused for one chunk at a time (CHUNK_ROWS rows), so any cycle made
    meanwhile waits at most a second or two to be collected."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class StagedInput:
    raw: dict[str, Any]
    source: str
    row_number: int | None = None
    event_id: str = ""
    inbound_event_id: int | None = None
    reprocessed_from_id: int | None = None
    overrides: dict[str, Any] | None = None  # edited dead-letter payload (property → value)
    # NUL characters removed from the input (integrations/inbound.py): a warning on the record.
    nul_removed: int = 0
    # rule source → this input's own header, when it differs from the run's (a reprocess run
    # mixes rows of files whose columns were matched by alias, e.g. "Work Email" → Email).
    columns: dict[str, str] | None = None


@dataclass(slots=True)
class StagingTally:
    records: int = 0
    transform_seconds: float = 0.0


def inputs_stage(
    *,
    inputs: Iterable[tuple[int, StagedInput]],
    workflow: Workflow,
    rules: list[MappingRule],
    columns: dict[str, str] | None,
    writer: RecordWriter,
) -> StagingTally:
    """Transform and validate each (position, input), hand it to ``writer``. The caller
    flushes the writer and owns the transaction."""
    mapping = CompiledMapping(rules, columns)
    mappings_by_columns: dict[tuple[tuple[str, str], ...], CompiledMapping] = {}
    match_on = workflow.match_on
    mx_check = workflow.mx_check and match_on == "email"
    mx_cache: dict[str, bool] = {}
    targets = {rule.target for rule in rules}
    # The admin's quality rules (required, format, range, allowed values, cross-field), read
    # once per pass: an error dead-letters the record, a warning rides along and is counted.
    quality_specs = quality_rule_specs(
        workflow_id=workflow.pk, object_type=workflow.destination_object
    )
    tally = StagingTally()
    clock = time.perf_counter
    for position, staged in inputs:
        tick = clock()
        own_mapping, own_columns = mapping, columns
        if staged.columns is not None:
            key = tuple(sorted(staged.columns.items()))
            if key not in mappings_by_columns:
                mappings_by_columns[key] = CompiledMapping(rules, staged.columns)
            own_mapping, own_columns = mappings_by_columns[key], staged.columns
        if staged.overrides:
            row = _with_overrides(staged, rules, own_columns)
            record = record_transform(row, own_mapping, match_on=match_on)
            record.values.update({k: v for k, v in staged.overrides.items() if k not in targets})
        else:
            record = record_transform(staged.raw, own_mapping, match_on=match_on)
        if quality_specs:
            record.errors.extend(rule_violations(record.values, quality_specs))
        state = RecordState.TRANSFORMED
        if has_blocking_error(record.errors):
            state = RecordState.DEAD_LETTERED
        elif mx_check:
            domain = record.match_key.rpartition("@")[2]
            if domain not in mx_cache:
                mx_cache[domain] = email_domain_accepts_mail(domain=domain)
            if not mx_cache[domain]:
                record.errors.append(
                    {
                        "source": "email",
                        "target": "email",
                        "code": "undeliverable",
                        "message": "the email's domain does not accept mail (no MX or A record)",
                    }
                )
                state = RecordState.DEAD_LETTERED
        if staged.nul_removed:
            record.errors.append(
                {
                    "source": "row",
                    "target": "",
                    "code": "nul_removed",
                    "level": "warning",
                    "message": f"{staged.nul_removed} NUL character(s) removed from the text",
                }
            )
        tally.transform_seconds += clock() - tick
        tally.records += 1
        writer.add(staged, position, record, state, "")
    return tally


def _with_overrides(
    staged: StagedInput, rules: list[MappingRule], columns: dict[str, str] | None
) -> dict[str, Any]:
    """An edited dead letter: put each edited property back into the source column its rule
    reads, so the edit goes through the same transforms and validation as the original."""
    row = dict(staged.raw)
    for rule in rules:
        if rule.target in (staged.overrides or {}):
            row[(columns or {}).get(rule.source, rule.source)] = staged.overrides[rule.target]
    return row


def suppressed_event_items_blank(*, writer: RecordWriter) -> None:
    """A person erased earlier arrived again by webhook: blank them in the events kept with
    the run too, so suppression means nothing new is kept about them. (A CSV run's file is
    blanked once all its chunks are staged: pipelines.services.chunks.)"""
    from pipelines.privacy_stores import inbound_event_items_erase

    if writer.suppressed_items:
        inbound_event_items_erase(items=writer.suppressed_items)


class RowsNotStored(Exception):  # noqa: N818 - a refusal, named as the run reports it
    """The database refused a flush. ``message`` names the row (COPY reports the line it
    stopped at) or the rows of the flush, and the error class, never a value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def naming(cls, error: Exception, rows: list[tuple]) -> RowsNotStored:
        cause = error if isinstance(error, psycopg.Error) else error.__cause__
        kind = type(cause or error).__name__
        # Only the line number is read from the context: the rest quotes the row's values.
        context = str(getattr(getattr(cause, "diag", None), "context", "") or "")
        line = re.search(r"\bCOPY \S+, line (\d+)", context)
        numbers = [row[3] for row in rows if row[3] is not None]  # row_number (COLUMNS[3])
        if line and 0 < int(line.group(1)) <= len(rows) and rows[int(line.group(1)) - 1][3]:
            where = f"row {rows[int(line.group(1)) - 1][3]}"
        elif numbers:
            where = f"one of rows {min(numbers)}-{max(numbers)}"
        else:
            where = "one of the records"
        return cls(f"The database refused {where} ({kind}).")


class RecordWriter:
    """Buffers staged records and writes them FLUSH_ROWS at a time (COPY on PostgreSQL)."""

    COLUMNS = (
        "run_id",
        "position",
        "source",
        "row_number",
        "event_id",
        "inbound_event_id",
        "reprocessed_from_id",
        "raw",
        "values",
        "extras",
        "errors",
        "match_key",
        "state",
        "skip_reason",
        "hubspot_id",
        "created_at",
        "updated_at",
    )

    def __init__(self, *, run_id: int, now: Any, check_suppression: bool) -> None:
        self.run_id = run_id
        self.now = now
        self.check_suppression = check_suppression
        self.rows: list[tuple] = []
        self.suppressed_items: dict[int, set[int]] = {}  # inbound event id → item numbers

    def add(
        self, staged: StagedInput, position: int, record: Any, state: str, skip_reason: str
    ) -> None:
        self.rows.append(
            (
                self.run_id,
                position,
                staged.source,
                staged.row_number,
                staged.event_id[:200],
                staged.inbound_event_id,
                staged.reprocessed_from_id,
                staged.raw,
                record.values,
                record.extras,
                record.errors,
                record.match_key[:320],
                state,
                skip_reason,
                "",
                self.now,
                self.now,
            )
        )
        if len(self.rows) >= FLUSH_ROWS:
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
                    self._suppressed(row)
                    if row[state_at] == RecordState.TRANSFORMED and row[key_at] in suppressed
                    else row
                    for row in self.rows
                ]
        try:
            if connection.vendor == "postgresql":
                self._copy()
            else:
                RunRecord.objects.bulk_create(
                    [RunRecord(**dict(zip(self.COLUMNS, row, strict=True))) for row in self.rows],
                    batch_size=1000,
                )
        except (DatabaseError, psycopg.Error) as error:  # COPY runs on psycopg's own cursor
            raise RowsNotStored.naming(error, self.rows) from None
        self.rows = []

    def _suppressed(self, row: tuple) -> tuple:
        """Skipped, and nothing about the person kept: the record says only that someone
        suppressed was skipped. The copies in the input (file, webhook event) are blanked by
        the stager once staging is done."""
        values = dict(zip(self.COLUMNS, row, strict=True))
        if values["inbound_event_id"]:
            self.suppressed_items.setdefault(values["inbound_event_id"], set()).add(
                values["row_number"] or 1
            )
        values.update(
            raw={},
            values={},
            extras={},
            errors=[],
            match_key="",
            event_id="",
            state=RecordState.SKIPPED,
            skip_reason=SkipReason.SUPPRESSED,
        )
        return tuple(values[c] for c in self.COLUMNS)

    def _copy(self) -> None:
        table = RunRecord._meta.db_table
        statement = f"COPY {table} ({', '.join(self.COLUMNS)}) FROM STDIN"
        # Rows are written as COPY text lines here rather than with psycopg's write_row, which
        # adapts each of the 17 values on its own (~5 µs a row against ~2 µs, measured).
        # created_at and updated_at are one instant for the whole flush.
        stamp = self.now.isoformat()
        lines = [_copy_line(row, stamp) for row in self.rows]
        with connection.cursor() as cursor:
            # The psycopg 3 cursor under Django's wrapper, in Django's transaction.
            with cursor.cursor.copy(statement) as copy:
                copy.write("".join(lines))


# COPY's text format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"):
# columns split by tab, \N is NULL, and a backslash, tab, newline or carriage return inside
# a value is written as a backslash sequence. JSON from orjson never holds a raw control
# character (they are \u-escaped), but may hold backslashes.
_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_line(row: tuple, stamp: str) -> str:
    """One RecordWriter row (in COLUMNS order) as a line of COPY text."""
    (
        run_id,
        position,
        source,
        row_number,
        event_id,
        inbound_event_id,
        reprocessed_from_id,
        raw,
        values,
        extras,
        errors,
        match_key,
        state,
        skip_reason,
        hubspot_id,
        _created,
        _updated,
    ) = row
    escape = _copy_escape
    return (
        "\t".join(
            (
                str(run_id),
                str(position),
                source,
                _COPY_NULL if row_number is None else str(row_number),
                escape(event_id),
                _COPY_NULL if inbound_event_id is None else str(inbound_event_id),
                _COPY_NULL if reprocessed_from_id is None else str(reprocessed_from_id),
                escape(json_text(raw)),
                escape(json_text(values)),
                escape(json_text(extras)) if extras else "{}",
                escape(json_text(errors)) if errors else "[]",
                escape(match_key),
                state,
                skip_reason,
                escape(hubspot_id),
                stamp,
                stamp,
            )
        )
        + "\n"
    )
