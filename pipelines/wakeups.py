"""Wake-ups for work claimed from the database (pipelines.enqueue sends the other tasks).

A wake-up carries an owner of work (a run), never the work itself: whatever it finds due in
the database is what it does (docs/operations.md, "Work is claimed from the database"). A
wake-up that cannot be published is logged and left to the sweepers (pipelines.claims.wake_up).
Tasks import services; services import this module; it finds each task by its registered name
(pipelines.enqueue), never by importing a tasks module, so there is no import cycle.
"""

from __future__ import annotations

from celery import current_app

from pipelines import enqueue
from pipelines.claims import wake_up


def run_load_wake(*, run_id: int, countdown: float | None = None) -> bool:
    return wake_up(current_app.tasks[enqueue.RUN_LOAD], run_id, countdown=countdown)


def run_stage_wake(*, run_id: int) -> bool:
    return wake_up(current_app.tasks[enqueue.RUN_STAGE], run_id)


def run_prepare_wake(*, run_id: int) -> bool:
    return wake_up(current_app.tasks[enqueue.RUN_PREPARE], run_id)


def workflow_events_wake(*, workflow_id: int, countdown: float | None = None) -> bool:
    return wake_up(
        current_app.tasks[enqueue.INBOUND_EVENTS_PROCESS], workflow_id, countdown=countdown
    )
