"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from enrichment.services import enrichment_run_create, enrichment_run_dispatch
from pipelines.models import RunTrigger, Workflow


@shared_task(name="enrichment.run")
def enrichment_run_task(run_id: int) -> str:
    from enrichment.services import enrichment_run_execute

    return enrichment_run_execute(run_id=run_id).status


@shared_task(name="enrichment.scheduled")
def enrichment_scheduled_task(workflow_slug: str = "", *, workflow: str = "") -> int:
    """What django-celery-beat calls at the workflow's schedule: one incremental run. The beat
    entry names the workflow in its kwargs ({"workflow": slug}), as every workflow schedule
    does, so the operations home can show its next run; a positional slug (entries made
    before) still works."""
    workflow = Workflow.objects.get(slug=workflow or workflow_slug)
    run = enrichment_run_create(
        workflow=workflow, trigger=RunTrigger.SCHEDULE, actor_label="schedule"
    )
    enrichment_run_dispatch(run=run)
    return run.pk


@shared_task(name="enrichment.answers_purge")
def enrichment_answers_purge_task() -> int:
    """Daily (beat): provider answers past their TTL are deleted (retention)."""
    from enrichment.cache import answers_purge_expired

    return answers_purge_expired()
