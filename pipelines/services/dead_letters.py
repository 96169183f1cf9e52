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
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.enqueue import ROUTING_RUN_REPROCESS, RUN_PREPARE, enqueue_on_commit
from pipelines.models import DeadLetter, DeadLetterResolution, Run, RunTrigger, WorkflowType

try:  # audit's shared escaping, if the audit app ships it
    from audit.csv_safety import csv_safe_cell
except ImportError:  # pipelines-local fallback, same rule (OWASP CSV injection)
    _FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")

    def csv_safe_cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(_FORMULA_START) else text


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
        letter.payload = payload
        letter.edited_at = timezone.now()
        letter.save(update_fields=["payload", "original_payload", "edited_at"])
        changed = sorted(k for k in set(before) | set(payload) if before.get(k) != payload.get(k))
        # Property names only: the values are personal data and the audit log keeps no PII.
        audit_event_record(
            action="dead_letter.edited",
            actor=actor,
            obj=letter,
            metadata={"properties_changed": changed, "run": letter.run_id},
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
            metadata={"dead_letters": [d.pk for d in open_letters], "parent_run": parent.pk},
        )
        if dispatch and parent.workflow.type == WorkflowType.MQL_ROUTING:
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
        yield line(
            [
                d.pk,
                d.run_id,
                d.workflow.slug,
                d.stage,
                d.category,
                " | ".join(map(str, d.errors)),
                d.attempts,
                d.record.row_number or "",
                d.record.event_id,
                d.created_at.isoformat(),
                d.resolution,
                json.dumps(d.payload, ensure_ascii=False),
                json.dumps(d.source_row, ensure_ascii=False),
            ]
        )
