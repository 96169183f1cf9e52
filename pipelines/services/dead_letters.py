"""The dead-letter queue: edit, reprocess, ignore, export. Every action is audited.

Reprocessing is a new run linked to the old one (Run.parent), as Hookdeck's bulk retry and
the Standard Webhooks spec recommend (docs/reference/reliability.md#dead-letters); reprocessing a letter
already resolved is a no-op, so a double-click or a retried request does nothing twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_event_record
from integrations.inbound import nul_strip
from pipelines import dead_letter_reasons as words
from pipelines.dead_letter_kinds import LETTER_KINDS
from pipelines.enqueue import ROUTING_RUN_REPROCESS, RUN_PREPARE, enqueue_on_commit
from pipelines.models import (
    DeadLetter,
    DeadLetterResolution,
    RecordState,
    Run,
    RunRecord,
    RunTrigger,
    SkipReason,
    WorkflowType,
)

try:  # audit's shared escaping, if the audit app ships it
    from audit.csv_safety import csv_safe_cell
except ImportError:  # pipelines-local fallback, same rule (OWASP CSV injection)
    _FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")

    def csv_safe_cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(_FORMULA_START) else text


# Workflow kinds with their own run machinery (company enrichment) register how a reprocess
# run of theirs is created and started: type → handler(workflow, parent, actor) -> Run, and
# an optional dispatcher(run) called after commit. Filled in by those apps' ready().
REPROCESS_RUN_CREATORS: dict[str, Any] = {}
REPROCESS_RUN_DISPATCHERS: dict[str, Any] = {}


def dead_letter_describe(
    *,
    letter: DeadLetter,
    match_key: str,
    match_on: str,
    record_errors: list[dict[str, Any]],
    rules: list[dict[str, Any]] | None = None,
) -> DeadLetter:
    """Fill a new (unsaved) letter's words before it is written: the category in the one
    vocabulary, HubSpot's errors as sentences, the reason that groups it, whom it is about."""
    letter.category = words.category_normalize(letter.category, stage=letter.stage)
    letter.errors = words.error_sentences(letter.errors)
    letter.reason = words.reason_of(category=letter.category, errors=letter.errors)
    columns = (
        words.source_columns(raw=letter.source_row, rules=rules)
        if rules and record_errors and not match_key
        else None
    )
    letter.identity = words.identity_of(
        match_key=match_key,
        match_on=match_on,
        errors=record_errors,
        raw=letter.source_row,
        columns=columns,
    )
    return letter


SETTLE_CHUNK = 500


def dead_letters_settle(*, run: Run) -> dict[str, int]:
    """Once a run finishes, the queue keeps one open letter per person and workflow: the run's
    new letters supersede older open ones of the same identity, and its successes (loaded,
    or unchanged since a sync) resolve older open letters of that identity. Audited."""
    now = timezone.now()
    newest = dict(DeadLetter.objects.filter(run=run).order_by("id").values_list("identity", "pk"))
    superseded: list[DeadLetter] = []
    identities = [i for i in newest if i]
    for start in range(0, len(identities), SETTLE_CHUNK):
        older = DeadLetter.objects.filter(
            workflow_id=run.workflow_id,
            resolution="",
            identity__in=identities[start : start + SETTLE_CHUNK],
        ).exclude(run=run)
        for letter in older.only("pk", "identity"):
            if letter.pk < newest[letter.identity]:
                letter.resolution = DeadLetterResolution.SUPERSEDED
                letter.resolution_note = f"superseded by dead letter {newest[letter.identity]}"
                letter.resolved_at, letter.resolved_in_run = now, run
                superseded.append(letter)
    DeadLetter.objects.bulk_update(
        superseded,
        ["resolution", "resolution_note", "resolved_at", "resolved_in_run"],
        batch_size=SETTLE_CHUNK,
    )
    synced = _dead_letters_resolve_synced(run=run, now=now)
    if superseded or synced:
        audit_event_record(
            action="dead_letter.settled",
            actor_label=f"pipeline:{run.workflow.slug}",
            obj=run,
            metadata={
                "superseded": [d.pk for d in superseded][:1000],
                "synced": synced[:1000],
            },
        )
    return {"superseded": len(superseded), "synced": len(synced)}


def _dead_letters_resolve_synced(*, run: Run, now: Any) -> list[int]:
    """Open letters of other runs whose identity this run synced. One semi-join in the
    database: checking the run's keys 500 at a time took 200 round trips (1.2 s) at the end
    of every 100,000-row import, most of them finding nothing."""
    synced_keys = (
        RunRecord.objects.filter(run=run)
        .filter(
            Q(state=RecordState.LOADED)
            | Q(state=RecordState.SKIPPED, skip_reason=SkipReason.UNCHANGED)
        )
        .exclude(match_key="")
        .values("match_key")
    )
    letters = DeadLetter.objects.filter(
        workflow_id=run.workflow_id, resolution="", identity__in=synced_keys
    ).exclude(run=run)
    resolved = list(letters.values_list("pk", flat=True))
    letters.update(
        resolution=DeadLetterResolution.SYNCED,
        resolution_note=f"synced in run {run.pk}",
        resolved_at=now,
        resolved_in_run=run,
    )
    return resolved


def dead_letter_edit(*, dead_letter_id: int, payload: dict[str, Any], actor: Any) -> DeadLetter:
    """Replace the payload (HubSpot property → value) of an unresolved letter. The original is
    kept on the first edit; reprocessing sends the edit through the mapping's transforms."""
    if not isinstance(payload, dict):
        raise ValueError("payload must be an object of property → value")
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(pk=dead_letter_id)
        if letter.is_resolved:
            raise ValueError(f"dead letter {letter.pk} is already {letter.resolution}")
        before = letter.payload
        if letter.original_payload is None:
            letter.original_payload = before
        # The NUL rule of every store (integrations/inbound.py): removed, and said so.
        payload, removed = nul_strip(payload)
        letter.payload = payload
        letter.edited_at = timezone.now()
        fields = ["payload", "original_payload", "edited_at"]
        if removed:
            letter.errors = [*letter.errors, f"{removed} NUL character(s) removed from the edit"]
            fields.append("errors")
        letter.save(update_fields=fields)
        changed = sorted(k for k in set(before) | set(payload) if before.get(k) != payload.get(k))
        # Property names only: the values are personal data and the audit log keeps no PII.
        audit_event_record(
            action="dead_letter.edited",
            actor=actor,
            obj=letter,
            metadata={"properties_changed": changed, "run": letter.run_id}
            | ({"nul_removed": removed} if removed else {}),
        )
    return letter


def dead_letter_reprocess(
    *,
    dead_letter_ids: list[int],
    actor: Any,
    payload_overrides: dict[int, dict] | None = None,
    dispatch: bool = True,
) -> Run:
    """Start a "reprocess" run for the unresolved letters among ``dead_letter_ids``.

    ``payload_overrides`` edits letters first (as dead_letter_edit). The new run's parent is
    the run most of the letters came from. If every letter is already resolved, nothing is
    started and the run that resolved the first one is returned.
    """
    for letter_id, payload in (payload_overrides or {}).items():
        dead_letter_edit(dead_letter_id=int(letter_id), payload=payload, actor=actor)
    from pipelines.services.staging import run_create

    with transaction.atomic():
        letters = list(
            DeadLetter.objects.select_for_update().filter(pk__in=dead_letter_ids).order_by("id")
        )
        if any(d.stage in LETTER_KINDS for d in letters):
            # An event delivery's letter is redelivered, not reprocessed in a run.
            raise ValueError("event delivery letters are redelivered: use Redeliver")
        open_letters = [d for d in letters if not d.is_resolved]
        if not open_letters:
            resolved = next((d.resolved_in_run for d in letters if d.resolved_in_run_id), None)
            if resolved is None:
                raise ValueError("no dead letters to reprocess")
            return resolved
        workflows = {d.workflow_id for d in open_letters}
        if len(workflows) > 1:
            raise ValueError("reprocess dead letters of one workflow at a time")
        parent_id = Counter(d.run_id for d in open_letters).most_common(1)[0][0]
        parent = Run.objects.get(pk=parent_id)
        kind = parent.workflow.type
        creator = REPROCESS_RUN_CREATORS.get(kind, None)
        if creator is not None:
            run = creator(workflow=parent.workflow, parent=parent, actor=actor)
        else:
            run = run_create(
                workflow=parent.workflow, trigger=RunTrigger.REPROCESS, actor=actor, parent=parent
            )
        now = timezone.now()
        DeadLetter.objects.filter(pk__in=[d.pk for d in open_letters]).update(
            resolution=DeadLetterResolution.REPROCESSED,
            resolved_by=actor if getattr(actor, "pk", None) else None,
            resolved_at=now,
            resolved_in_run=run,
        )
        audit_event_record(
            action="dead_letter.reprocessed",
            actor=actor,
            obj=run,
            metadata={
                "dead_letters": [d.pk for d in open_letters],
                "parent_run": parent.pk,
                "source_runs": sorted({d.run_id for d in open_letters}),
            },
        )
        if dispatch and kind in REPROCESS_RUN_DISPATCHERS:
            REPROCESS_RUN_DISPATCHERS[kind](run=run)
        elif dispatch and parent.workflow.type == WorkflowType.MQL_ROUTING:
            # A routing letter is routed again, not loaded (pipelines/routing/reprocess.py).
            enqueue_on_commit(ROUTING_RUN_REPROCESS, run.pk)
        elif dispatch:
            enqueue_on_commit(RUN_PREPARE, run.pk)
    return run


def dead_letter_ignore(*, dead_letter_ids: list[int], reason: str, actor: Any) -> int:
    """Resolve letters as ignored (they will not be sent). Returns how many changed."""
    if not reason.strip():
        raise ValueError("say why these dead letters are ignored")
    with transaction.atomic():
        ids = list(
            DeadLetter.objects.select_for_update()
            .filter(pk__in=dead_letter_ids, resolution="")
            .values_list("pk", flat=True)
        )
        DeadLetter.objects.filter(pk__in=ids).update(
            resolution=DeadLetterResolution.IGNORED,
            resolution_note=reason.strip()[:300],
            resolved_by=actor if getattr(actor, "pk", None) else None,
            resolved_at=timezone.now(),
        )
        if ids:
            audit_event_record(
                action="dead_letter.ignored",
                actor=actor,
                object_type="pipelines.deadletter",
                object_id=",".join(map(str, ids))[:100],
                metadata={"dead_letters": ids, "reason": reason.strip()[:300]},
            )
    return len(ids)


EXPORT_COLUMNS = [
    "id",
    "run",
    "workflow",
    "stage",
    "category",
    "errors",
    "attempts",
    "row",
    "event_id",
    "created_at",
    "resolution",
    "payload",
    "source_row",
]


def dead_letters_export_csv(*, queryset: QuerySet[DeadLetter]) -> Iterator[str]:
    """CSV lines (header first), streamed. Every cell is escaped against formula injection:
    a value starting with = + - @ tab CR or NUL gets a leading apostrophe, so a spreadsheet
    shows it as text instead of running it (docs/reference/reliability.md#fault-tests F9)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe_cell(c) for c in cells])
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    rows = queryset.select_related("record", "workflow").order_by("id")
    for d in rows.iterator(chunk_size=500):
        # A delivery letter (stage deliver) has no run, workflow or record.
        yield line(
            [
                d.pk,
                d.run_id or "",
                d.workflow.slug if d.workflow_id else "",
                d.stage,
                d.category,
                " | ".join(map(str, d.errors)),
                d.attempts,
                (d.record.row_number or "") if d.record_id else "",
                d.record.event_id if d.record_id else "",
                d.created_at.isoformat(),
                d.resolution,
                json.dumps(d.payload, ensure_ascii=False),
                json.dumps(d.source_row, ensure_ascii=False),
            ]
        )
