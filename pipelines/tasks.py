"""Thin Celery tasks: ids in, one service call, nothing else.

A message is a wake-up, not the work: a task is woken for a run and claims what is due from
the database (docs/operations.md, "Work is claimed from the database"), so a message lost,
consumed by a failing task, or flushed from Redis costs one sweep, not the work. acks_late and
task_reject_on_worker_lost are set globally (config/celery.py).

Infrastructure errors (database or broker unreachable) retry with backoff and jitter and
are never counted against a batch or a record (pipelines.claims).
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from pipelines.claims import INFRASTRUCTURE_ERRORS, retry_delay, wake_up
from pipelines.services.chunks import run_chunk_stage, run_chunk_stage_next
from pipelines.services.loader import run_load
from pipelines.services.runs import run_notify, run_prepare
from pipelines.services.sweepers import batches_sweep, chunks_sweep, clay_events_sweep, runs_sweep
from pipelines.services.webhooks import inbound_events_process
from pipelines.wakeups import run_load_wake


@shared_task(bind=True, name="pipelines.run_prepare", max_retries=None)
def run_prepare_task(self, run_id: int) -> None:
    try:
        run_prepare(run_id=run_id)
    except INFRASTRUCTURE_ERRORS as exc:
        raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from None


@shared_task(bind=True, name="pipelines.run_stage", max_retries=None)
def run_stage_task(self, run_id: int) -> None:
    # Stage the run's free chunks one after another, then prepare: after the run's last chunk
    # that dedupes, cuts batches and wakes the loader.
    try:
        while run_chunk_stage_next(run_id=run_id):
            pass
        run_prepare(run_id=run_id)
    except INFRASTRUCTURE_ERRORS as exc:
        raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from None


@shared_task(bind=True, name="pipelines.run_load", max_retries=None)
def run_load_task(self, run_id: int) -> int:
    try:
        loaded = run_load(run_id=run_id)
    except INFRASTRUCTURE_ERRORS as exc:
        raise self.retry(countdown=retry_delay(self.request.retries), exc=exc) from None
    if loaded.wake_in is not None:
        run_load_wake(run_id=run_id, countdown=loaded.wake_in or None)
    return loaded.batches


@shared_task(name="pipelines.run_chunk_stage")
def run_chunk_stage_task(chunk_id: int) -> None:
    # Messages of the release before chunks were claimed: stage that chunk, then go on.
    run_prepare(run_id=run_chunk_stage(chunk_id=chunk_id))


@shared_task(name="pipelines.batch_process")
def batch_process_task(batch_id: int) -> None:
    # Messages of the release before batches were claimed: wake the batch's run instead.
    from pipelines.models import RunBatch

    run_id = RunBatch.objects.filter(pk=batch_id).values_list("run_id", flat=True).first()
    if run_id is not None:
        run_load_wake(run_id=run_id)


@shared_task(name="pipelines.inbound_events_process")
def inbound_events_process_task(workflow_id: int) -> None:
    inbound_events_process(workflow_id=workflow_id)


@shared_task(name="pipelines.batches_sweep")
def batches_sweep_task() -> dict[str, int]:
    return batches_sweep()


@shared_task(name="pipelines.chunks_sweep")
def chunks_sweep_task() -> dict[str, int]:
    return chunks_sweep()


@shared_task(name="pipelines.runs_sweep")
def runs_sweep_task() -> dict[str, int]:
    return runs_sweep()


@shared_task(name="pipelines.clay_events_sweep")
def clay_events_sweep_task() -> dict[str, int]:
    return clay_events_sweep()


@shared_task(
    name="pipelines.run_notify", autoretry_for=(Exception,), retry_backoff=True, max_retries=5
)
def run_notify_task(run_id: int) -> None:
    run_notify(run_id=run_id)


@shared_task(name="pipelines.pending_uploads_expire")
def pending_uploads_expire_task() -> int:
    # Hourly ("Expire pending uploads", seeded by migration 0012).
    from pipelines.screens.services import pending_uploads_expire

    return pending_uploads_expire()


@worker_ready.connect
def sweep_when_a_worker_starts(**_kwargs: object) -> None:
    # A worker that just started (after a crash, a deploy, a lost broker) looks for work
    # nobody is doing at once, rather than at beat's next sweep: up to 10 s sooner.
    wake_up(batches_sweep_task)
    wake_up(chunks_sweep_task)
