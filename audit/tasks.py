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
