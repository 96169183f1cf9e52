"""Routing's Celery task: thin, ids in, the service does the work."""

from __future__ import annotations

from celery import shared_task

from integrations.errors import ProviderError


@shared_task(bind=True, name="pipelines.routing.events_process", max_retries=10, acks_late=True)
def routing_events_process_task(self, event_ids: list[int]) -> int:
    from pipelines.routing.intake import (
        routing_events_park,
        routing_events_process,
        routing_retry_plan,
    )

    try:
        return routing_events_process(event_ids=event_ids)
    except ProviderError as error:
        if error.permanent:
            raise
        # Transient (429, 5xx, timeout): back off, honouring Retry-After when it fits a
        # countdown; a daily quota or an hours-long wait parks the events instead. What was
        # done before the failure is recorded on the decisions, so the retry resumes it.
        plan, seconds = routing_retry_plan(error=error, retries=self.request.retries)
        if plan == "park":
            routing_events_park(event_ids=event_ids, seconds=seconds, reason=str(error))
            return 0
        raise self.retry(exc=error, countdown=seconds) from None


@shared_task(bind=True, name="pipelines.routing.run_reprocess", max_retries=10, acks_late=True)
def routing_run_reprocess_task(self, run_id: int) -> None:
    from pipelines.routing.reprocess import routing_run_reprocess

    try:
        routing_run_reprocess(run_id=run_id)
    except ProviderError as error:
        # Transient only (the service dead-letters a permanent one): the records already
        # routed are kept, the retry resumes with the rest.
        countdown = error.retry_after or min(600, 15 * 2**self.request.retries)
        raise self.retry(exc=error, countdown=countdown) from None


@shared_task(
    name="pipelines.routing.owners_sync",
    autoretry_for=(ProviderError,),
    retry_backoff=60,
    max_retries=3,
)
def owners_sync_task() -> dict[str, dict[str, int]]:
    from pipelines.routing.owners import owners_sync_for_routing

    return owners_sync_for_routing()


@shared_task(name="pipelines.routing.events_sweep")
def routing_events_sweep_task() -> dict[str, int]:
    from pipelines.routing.intake import routing_events_sweep

    return routing_events_sweep()
