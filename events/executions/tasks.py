"""Thin Celery task: a message only says "look at this execution"; its rows say what to do."""

from __future__ import annotations

from celery import shared_task

from events.executions.engine import execution_advance


@shared_task(name="events.execution_advance")
def execution_advance_task(execution_id: int) -> str:
    return execution_advance(execution_id=execution_id)
