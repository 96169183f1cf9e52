"""The Celery app.

At-least-once delivery is configured here, but it is not enough on its own: the database is
the source of truth for work in progress (batches carry a state and a lease, and a periodic
sweeper re-queues expired ones), so a worker killed outright loses nothing.
See docs/operations.md.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure() -> None:
    from django.conf import settings

    transport_options: dict = {
        # Redis redelivers an unacked message after this many seconds. Above the longest task and
        # the longest countdown we use, or a slow task runs twice.
        "visibility_timeout": 2 * 60 * 60,
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_EMBEDDED_BROKER_DIR
        for sub in ("out", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }

    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Ack after the task ran, and requeue if the worker process dies, so a crash redoes the
        # batch instead of losing it. Tasks are idempotent, so a redo changes nothing.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process: a long batch never holds others hostage.
        worker_prefetch_multiplier=1,
        task_soft_time_limit=5 * 60,
        task_time_limit=6 * 60,
        task_ignore_result=not settings.CELERY_RESULT_BACKEND,
        result_expires=60 * 60,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        # Gives late-ack tasks a window to be requeued on a warm shutdown (SIGTERM).
        worker_soft_shutdown_timeout=10,
        timezone="UTC",
        enable_utc=True,
        beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler",
        worker_hijack_root_logger=False,
    )


_configure()
app.autodiscover_tasks()


@app.task(name="switchyard.ping")
def ping() -> str:
    """Round trip through broker and worker; used by the readiness test and operators."""
    return "pong"
