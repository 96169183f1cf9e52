"""Thin Celery tasks: ids in, one service call, nothing else.

A task carries a run or a batch of up to 100 records, never one record: Celery costs about
1 ms per task here, so one per record would spend ~100 s of a 100k import on overhead alone
(docs/reference/reliability.md#task-granularity). acks_late and task_reject_on_worker_lost are set globally
(config/celery.py); the batch lease and the sweeper make a lost message harmless.
"""

from __future__ import annotations

from celery import shared_task

from pipelines.services.chunks import run_chunk_stage
from pipelines.services.loading import batch_process
from pipelines.services.runs import batches_sweep, run_notify, run_prepare
from pipelines.services.webhooks import inbound_events_process


@shared_task(name="pipelines.run_prepare")
def run_prepare_task(run_id: int) -> None:
    run_prepare(run_id=run_id)


@shared_task(name="pipelines.run_chunk_stage")
def run_chunk_stage_task(chunk_id: int) -> None:
    # Then prepare: after the run's last chunk that dedupes, batches and dispatches the load;
    # after any other it only re-sends chunks whose task was lost.
    run_prepare(run_id=run_chunk_stage(chunk_id=chunk_id))


@shared_task(bind=True, name="pipelines.batch_process", max_retries=None)
def batch_process_task(self, batch_id: int) -> str:
    # Attempts are counted on the RunBatch row (PIPELINE_BATCH_MAX_ATTEMPTS), not by Celery.
    outcome = batch_process(batch_id=batch_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="pipelines.inbound_events_process")
def inbound_events_process_task(workflow_id: int) -> None:
    inbound_events_process(workflow_id=workflow_id)


@shared_task(name="pipelines.batches_sweep")
def batches_sweep_task() -> dict[str, int]:
    return batches_sweep()


@shared_task(
    name="pipelines.run_notify", autoretry_for=(Exception,), retry_backoff=True, max_retries=5
)
def run_notify_task(run_id: int) -> None:
    run_notify(run_id=run_id)
