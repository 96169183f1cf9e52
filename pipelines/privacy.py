"""Hooks into audit's privacy services (erasure, access requests, suppression, retention).

audit/privacy.py is being written alongside; each hook is looked up when used, so a missing
one means "nothing registered" / "nobody suppressed" rather than a crash at startup.
TODO(privacy): drop the getattr fallbacks once audit.privacy ships `register_retention_kind`
(register_store, email_is_suppressed and emails_suppressed are there).
"""

from __future__ import annotations

from typing import Any


def _privacy() -> Any:
    try:
        from audit import privacy
    except ImportError:
        return None
    return privacy


def email_suppressed(email: str) -> bool:
    """True when a privacy request put the email on the suppression list (skip it)."""
    check = getattr(_privacy(), "email_is_suppressed", None)
    return bool(check(email)) if check and email else False


def emails_suppressed(emails: list[str]) -> set[str]:
    """The suppressed subset of ``emails``: one query per chunk, not one per record."""
    privacy = _privacy()
    if privacy is None or not emails:
        return set()
    if hasattr(privacy, "emails_suppressed"):
        return set(privacy.emails_suppressed(emails))
    return {e for e in emails if email_suppressed(e)}


class RunRecordStore:
    """Raw payloads and mapped values of staged records."""

    name = "pipelines.run_records"

    def find(self, email: str) -> list[dict[str, Any]]:
        from pipelines.models import RunRecord

        return [
            {"id": r.pk, "run": r.run_id, "row": r.row_number, "raw": r.raw, "values": r.values, "extras": r.extras}
            for r in RunRecord.objects.filter(match_key=email.strip().lower())
        ]

    def erase(self, email: str) -> int:
        from pipelines.models import RunRecord

        return RunRecord.objects.filter(match_key=email.strip().lower()).update(
            raw={}, values={}, extras={}, errors=[], match_key="", event_id=""
        )


class DeadLetterStore:
    """Dead letters carry the payload and the source row. Matched on the record's key or the
    payload's email, so it works whichever store the erasure runs first."""

    name = "pipelines.dead_letters"

    def _letters(self, email: str):
        from django.db.models import Q

        from pipelines.models import DeadLetter

        email = email.strip().lower()
        return DeadLetter.objects.filter(Q(record__match_key=email) | Q(payload__email=email))

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {"id": d.pk, "run": d.run_id, "payload": d.payload, "source_row": d.source_row, "errors": d.errors}
            for d in self._letters(email)
        ]

    def erase(self, email: str) -> int:
        from pipelines.models import DeadLetter

        ids = list(self._letters(email).values_list("pk", flat=True))
        return DeadLetter.objects.filter(pk__in=ids).update(
            payload={}, original_payload=None, source_row={}, errors=["erased on request"]
        )


class InboundEventStore:
    """Webhook bodies as received. Found through the records staged from them, or by a text
    search of the payload (a scan; erasures are rare, so the cost is accepted)."""

    name = "pipelines.inbound_events"

    def _events(self, email: str):
        from pipelines.models import InboundEvent

        email = email.strip().lower()
        from django.db.models import Q

        return InboundEvent.objects.filter(Q(records__match_key=email) | Q(payload__icontains=email)).distinct()

    def find(self, email: str) -> list[dict[str, Any]]:
        return [{"id": e.pk, "received_at": e.received_at.isoformat(), "payload": e.payload} for e in self._events(email)]

    def erase(self, email: str) -> int:
        from pipelines.models import InboundEvent

        ids = list(self._events(email).values_list("pk", flat=True))
        return InboundEvent.objects.filter(pk__in=ids).update(payload={"erased": True})


def privacy_register() -> bool:
    """Called from PipelinesConfig.ready(). Returns False while audit.privacy is missing."""
    privacy = _privacy()
    if privacy is None:
        return False
    from django.db.models import Q

    from pipelines.models import DeadLetter, InboundEvent, RunRecord
    from pipelines.models.runs import FINISHED_STATUSES

    if hasattr(privacy, "register_store"):
        for store in (RunRecordStore(), DeadLetterStore(), InboundEventStore()):
            privacy.register_store(store)
    register_kind = getattr(privacy, "register_retention_kind", None)
    if register_kind is not None:
        register_kind("webhook_payloads", lambda: InboundEvent.objects.exclude(processed_at=None))
        register_kind("run_records", lambda: RunRecord.objects.filter(run__status__in=FINISHED_STATUSES))
        register_kind("resolved_dead_letters", lambda: DeadLetter.objects.filter(~Q(resolution="")))
    return True
