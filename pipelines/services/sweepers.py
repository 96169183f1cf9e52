"""The sweepers: one per kind of work, each a beat task (seeded by migrations, editable under
Periodic tasks). Work lives in the database and a message only wakes a worker up, so a sweeper
does not guess how old a queued message may be: it wakes a worker for every owner of due work
that no worker has claimed from lately (the heartbeat, PIPELINE_WORKER_HEARTBEAT_SECONDS).
Every wake-up it sends is harmless if one is already queued: the second finds nothing due.

| Sweeper | Every | Recovers |
|---|---|---|
| batches_sweep | 10 s | expired leases; runs with due batches and no loader (lost or consumed message, broker emptied, worker killed with reserved messages) |
| chunks_sweep | 10 s | CSV runs with unstaged chunks and no stager; runs whose chunks are all staged but that were not marked staged |
| runs_sweep | 30 s | runs whose batches all ended without finishing them; runs never prepared; stalled runs (marked) |
| clay_events_sweep | 30 s | Clay events stored but never staged into a run |
| routing's events_sweep | 30 s | HubSpot MQL events never routed (pipelines.routing.intake) |
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from pipelines import wakeups
from pipelines.models import (
    BatchState,
    InboundEvent,
    Run,
    RunBatch,
    RunChunk,
    RunStatus,
    RunTrigger,
)
from pipelines.models.runs import FINISHED_STATUSES
from pipelines.services.chunks import run_chunks_dispatch
from pipelines.services.runs import run_finish

_OPEN = [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING_FOR_QUOTA]


def _heartbeat_stale(now: Any) -> Q:
    """No worker claimed anything of the run within the heartbeat."""
    since = now - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS)
    return Q(worker_seen_at__isnull=True) | Q(worker_seen_at__lt=since)


def batches_sweep(*, now: Any = None) -> dict[str, int]:
    """Re-open batches whose lease expired (their worker died), and wake a loader for every
    prepared run with a due batch and no loader on it."""
    now = now or timezone.now()
    expired = RunBatch.objects.filter(state=BatchState.LEASED, lease_expires_at__lt=now).update(
        state=BatchState.PENDING,
        lease_token="",
        lease_holder="",
        lease_expires_at=None,
        last_error="lease expired: the worker stopped before finishing",
    )
    due = RunBatch.objects.filter(state=BatchState.PENDING).filter(
        Q(available_at__isnull=True) | Q(available_at__lte=now)
    )
    runs = (
        Run.objects.filter(status__in=_OPEN, prepared_at__isnull=False, batches__in=due)
        .filter(_heartbeat_stale(now))
        .values_list("pk", flat=True)
        .distinct()
    )
    woken = sum(wakeups.run_load_wake(run_id=run_id) for run_id in runs)
    return {"expired": expired, "woken": woken}


def chunks_sweep(*, now: Any = None) -> dict[str, int]:
    """Wake stagers for CSV runs with unstaged chunks and no stager; hand runs whose chunks
    are all staged (the last stager died before marking the run) back to run_prepare."""
    now = now or timezone.now()
    staging = Run.objects.filter(
        staged_at__isnull=True, trigger=RunTrigger.CSV, status__in=_OPEN
    ).exclude(status__in=FINISHED_STATUSES)
    unstaged = RunChunk.objects.filter(staged_at__isnull=True)
    woken = 0
    for run_id in (
        staging.filter(chunks__in=unstaged)
        .filter(_heartbeat_stale(now))
        .values_list("pk", flat=True)
        .distinct()
    ):
        woken += run_chunks_dispatch(run_id=run_id)
    settled = now - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS)
    finished_staging = (
        staging.filter(chunks__isnull=False)
        .exclude(chunks__in=unstaged)
        .exclude(chunks__staged_at__gt=settled)
        .values_list("pk", flat=True)
        .distinct()
    )
    prepared = sum(wakeups.run_prepare_wake(run_id=run_id) for run_id in finished_staging)
    return {"woken": woken, "prepared": prepared}


def runs_sweep(*, now: Any = None) -> dict[str, int]:
    """Finish runs whose batches all ended without finishing them, wake run_prepare for runs
    that were never prepared (a lost first message), and mark or clear stalled runs."""
    now = now or timezone.now()
    finished = 0
    for run_id in (
        Run.objects.filter(status__in=_OPEN, prepared_at__isnull=False)
        .exclude(batches__state__in=[BatchState.PENDING, BatchState.LEASED])
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run_id)
            finished += int(run_finish(run=run).is_finished)
    quiet = now - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS)
    unprepared = (
        Run.objects.filter(status__in=_OPEN, prepared_at__isnull=True, created_at__lt=quiet)
        .filter(_heartbeat_stale(now))
        # A run with chunks still to stage is chunks_sweep's; one never planned is ours.
        .exclude(Exists(RunChunk.objects.filter(run=OuterRef("pk"), staged_at__isnull=True)))
        .values_list("pk", flat=True)
        .distinct()
    )
    prepared = sum(wakeups.run_prepare_wake(run_id=run_id) for run_id in unprepared)
    return {"finished": finished, "prepared": prepared, **runs_stalled_mark(now=now)}


def runs_stalled_mark(*, now: Any) -> dict[str, int]:
    """A run with work pending and nothing finished (no chunk staged, no batch ended) for
    PIPELINE_RUN_STALLED_SECONDS is stalled, with the reason if one is known; waiting for a
    daily quota is not a stall. A stalled run that moves again is cleared by the write that
    moved it; one that finished, by run_finish."""
    limit = now - timedelta(seconds=settings.PIPELINE_RUN_STALLED_SECONDS)
    candidates = (
        Run.objects.filter(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING], stalled_at__isnull=True
        )
        .annotate(moved_at=Coalesce("progress_at", "started_at", "created_at"))
        .filter(moved_at__lt=limit)
    )
    stalled = 0
    for run in candidates.only("pk", "worker_seen_at"):
        Run.objects.filter(pk=run.pk, stalled_at__isnull=True).update(
            stalled_at=now, stall_reason=stall_reason(run=run, now=now)[:300]
        )
        stalled += 1
    return {"stalled": stalled}


def stall_reason(*, run: Run, now: Any) -> str:
    """The best explanation we have: the last error of a batch still to load, else whether any
    worker is on the run at all."""
    last_error = (
        RunBatch.objects.filter(run=run, state__in=[BatchState.PENDING, BatchState.LEASED])
        .exclude(last_error="")
        .order_by("-available_at")
        .values_list("last_error", flat=True)
        .first()
    )
    if last_error:
        return f"No progress; last error: {last_error}"
    seen = run.worker_seen_at
    if seen is None or seen < now - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS):
        return (
            "No worker has picked this run up: check that the Celery workers and beat are running."
        )
    return "Workers are on this run but nothing has finished."


def clay_events_sweep(*, now: Any = None) -> dict[str, int]:
    """Clay events stored more than a minute ago and never staged: wake their workflow's
    staging again (its task was lost)."""
    now = now or timezone.now()

    quiet = now - timedelta(seconds=60)
    workflows = set(
        InboundEvent.objects.filter(
            source="clay", run__isnull=True, workflow__isnull=False, received_at__lt=quiet
        ).values_list("workflow_id", flat=True)
    )
    woken = sum(wakeups.workflow_events_wake(workflow_id=pk) for pk in workflows)
    return {"woken": woken}
