"""The wake-ups pipeline services send: the one place they reach Celery from.

A wake-up carries an owner of work (a run), never the work itself: whatever it finds due in
the database is what it does (docs/operations.md, "Work is claimed from the database"). A
wake-up that cannot be published is logged and left to the sweepers (pipelines.claims.wake_up).
Tasks import services; services import this module; it imports the tasks only when called, so
there is no import cycle.
"""

from __future__ import annotations

from pipelines.claims import wake_up


def run_load_wake(*, run_id: int, countdown: float | None = None) -> bool:
    from pipelines.tasks import run_load_task

    return wake_up(run_load_task, run_id, countdown=countdown)


def run_stage_wake(*, run_id: int) -> bool:
    from pipelines.tasks import run_stage_task

    return wake_up(run_stage_task, run_id)


def run_prepare_wake(*, run_id: int) -> bool:
    from pipelines.tasks import run_prepare_task

    return wake_up(run_prepare_task, run_id)


def workflow_events_wake(*, workflow_id: int) -> bool:
    from pipelines.tasks import inbound_events_process_task

    return wake_up(inbound_events_process_task, workflow_id)
