"""Sending work to Celery after the current transaction commits: the one module services use.

Services import this at the top; it never imports a tasks module. The tasks modules import the
services, so a service that imported its task would close a cycle that only a function-level
import could hide. Here a task is found by its registered name (every task has a stable
`name=`), which is also what a worker running an older release receives.

The message is sent from `transaction.on_commit`, so a worker never looks for rows that are not
committed yet; if the process dies between the commit and the send, the sweeper re-dispatches
from the rows' state (docs/reference/reliability.md#dispatch-after-commit).
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

# The registered names of the tasks the services send (pipelines/tasks.py,
# pipelines/routing/tasks.py).
RUN_PREPARE = "pipelines.run_prepare"
RUN_STAGE = "pipelines.run_stage"
RUN_LOAD = "pipelines.run_load"
RUN_NOTIFY = "pipelines.run_notify"
INBOUND_EVENTS_PROCESS = "pipelines.inbound_events_process"
ROUTING_EVENTS_PROCESS = "pipelines.routing.events_process"
ROUTING_RUN_REPROCESS = "pipelines.routing.run_reprocess"


def enqueue_on_commit(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Send `task_name(*args)` once the transaction commits (at once outside a transaction)."""

    def send() -> None:
        task = current_app.tasks[task_name]
        if countdown is None:
            task.delay(*args)
        else:
            task.apply_async(args, countdown=countdown)

    transaction.on_commit(send)
