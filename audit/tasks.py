"""Thin Celery tasks over the audit services."""

from __future__ import annotations

from celery import shared_task

from audit.retention import retention_purge


@shared_task(name="audit.tasks.retention_purge_task")
def retention_purge_task() -> dict[str, int]:
    """Scheduled daily by the "Retention purge" PeriodicTask (seeded by migration 0005).

    Idempotent: a second run the same day finds nothing past the cutoffs.
    """
    return retention_purge(dry_run=False)


@shared_task(name="audit.tasks.audit_aggregates_flush_task")
def audit_aggregates_flush_task() -> int:
    """Every 5 minutes ("Audit: repeated failures", seeded by migration 0006): writes the count
    of each finished window of repeated unauthenticated failures (audit/aggregate.py)."""
    from audit.aggregate import audit_aggregates_flush

    return audit_aggregates_flush()
