"""Pipelines' side of the privacy services (audit/privacy.py): suppression checks, the stores
that hold personal data (pipelines/privacy_stores.py), and the retention kinds.

Suppression is checked where records come in: CSV and webhook staging (one query per 5,000
records, pipelines/services/staged_records.py), the import preview (one per 1,000), and MQL
routing.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from audit import privacy


def email_suppressed(email: str) -> bool:
    """True when a privacy request put the email on the suppression list (skip it)."""
    return bool(email) and privacy.email_is_suppressed(email)


def emails_suppressed(emails: list[str]) -> set[str]:
    """The suppressed subset of ``emails``: one query per chunk, not one per record."""
    return privacy.emails_suppressed(emails) if emails else set()


# --- Retention ---------------------------------------------------------------------------------
# Each kind takes the cutoff and names its own date: the rows differ in what "old" means.


def expired_webhook_payloads(cutoff: datetime) -> QuerySet:
    """Processed inbound events received before the cutoff. An unprocessed one is kept: it is
    work not done yet (the sweeper picks it up), not history."""
    from pipelines.models import InboundEvent

    return InboundEvent.objects.filter(processed_at__isnull=False, received_at__lt=cutoff)


def expired_run_records(cutoff: datetime) -> QuerySet:
    """Records of runs that finished before the cutoff. A record with a dead letter is kept
    while the letter is (deleting the record would cascade to it): unresolved letters wait for
    an admin however old they are, resolved ones go by their own period, then the record."""
    from pipelines.models import RunRecord
    from pipelines.models.runs import FINISHED_STATUSES

    return RunRecord.objects.filter(
        run__status__in=FINISHED_STATUSES, run__finished_at__lt=cutoff, dead_letter__isnull=True
    )


def expired_resolved_dead_letters(cutoff: datetime) -> QuerySet:
    """Dead letters resolved (reprocessed or ignored) before the cutoff; never unresolved ones."""
    from pipelines.models import DeadLetter

    resolved_before = Q(resolved_at__lt=cutoff) | Q(resolved_at__isnull=True, created_at__lt=cutoff)
    return DeadLetter.objects.exclude(resolution="").filter(resolved_before)


def privacy_register() -> None:
    """Called from PipelinesConfig.ready()."""
    from audit.retention import register_retention_kind
    from pipelines.privacy_stores import pipeline_stores

    for store in pipeline_stores():
        privacy.register_store(store)
    register_retention_kind("webhook_payloads", expired_webhook_payloads)
    register_retention_kind("run_records", expired_run_records)
    register_retention_kind("resolved_dead_letters", expired_resolved_dead_letters)
