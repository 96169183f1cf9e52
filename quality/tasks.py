"""Thin Celery tasks of the quality app."""

from __future__ import annotations

from celery import shared_task

from quality.snapshots import portal_snapshots_take_all


@shared_task(name="quality.portal_snapshots_take")
def portal_snapshots_take_task() -> int:
    return len(portal_snapshots_take_all())


@shared_task(name="quality.portal_snapshot_take")
def portal_snapshot_take_task(connection_id: int, object_type: str) -> int:
    from integrations.models import Connection
    from quality.snapshots import portal_snapshot_take

    snapshot = portal_snapshot_take(
        connection=Connection.objects.get(pk=connection_id), object_type=object_type
    )
    return snapshot.pk
