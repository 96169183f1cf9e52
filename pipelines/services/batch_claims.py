"""Claiming a run's batches from the database, and taking back the ones a dead worker or a
thread that lost the database left behind (docs/operations.md, "Work is claimed from the
database"). pipelines.claims is the generic primitive; this is its use for RunBatch."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from pipelines.claims import (
    INFRASTRUCTURE_ERRORS,
    LiveLeases,
    lease_holder_gone,
    lease_holder_here,
    retry_delay,
    row_claim,
)
from pipelines.models import BatchState, Run, RunBatch, RunStatus

# Tokens of the batches this process's threads are loading right now (see LiveLeases).
LIVE_LEASES = LiveLeases()


def batch_lease(*, batch_id: int, token: str) -> RunBatch | None:
    """Take this batch for this worker, or None if it is done, failed, or leased by a live
    worker (a duplicate delivery: harmless). A lease whose holder was a process on this host
    that no longer exists is taken over at once (a pool process killed mid-batch)."""
    now = timezone.now()
    with transaction.atomic():
        batch = RunBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.state in (BatchState.DONE, BatchState.FAILED):
            return None
        if (
            batch.state == BatchState.LEASED
            and batch.lease_expires_at
            and batch.lease_expires_at > now
            and not lease_holder_gone(batch.lease_holder)
        ):
            return None
        RunBatch.objects.filter(pk=batch_id).update(**_lease_fields(token, now))
        _run_claimed(batch.run_id, now)
    return RunBatch.objects.select_related("run__workflow").get(pk=batch_id)


def batch_claim_next(*, run_id: int, token: str) -> RunBatch | None:
    """Claim the run's next due batch (pending and available, or leased with an expired
    lease), skipping batches other claimers hold; None when nothing is due."""
    now = timezone.now()
    due = (
        RunBatch.objects.filter(run_id=run_id)
        .filter(
            Q(state=BatchState.PENDING, available_at__isnull=True)
            | Q(state=BatchState.PENDING, available_at__lte=now)
            | Q(state=BatchState.LEASED, lease_expires_at__lt=now)
        )
        .order_by("sequence")
    )
    batch = row_claim(due, update=_lease_fields(token, now))
    if batch is None:
        return None
    _run_claimed(run_id, now)
    return RunBatch.objects.select_related("run__workflow").get(pk=batch.pk)


def _lease_fields(token: str, now: Any) -> dict[str, Any]:
    return {
        "state": BatchState.LEASED,
        "lease_token": token,
        "lease_holder": lease_holder_here(),
        "lease_expires_at": now + timedelta(seconds=settings.PIPELINE_BATCH_LEASE_SECONDS),
        "attempts": F("attempts") + 1,
    }


def _run_claimed(run_id: int, now: Any) -> None:
    """A worker is on the run (its heartbeat), and a run waiting for its quota runs again."""
    run_heartbeat(run_id=run_id, now=now)
    Run.objects.filter(pk=run_id, status=RunStatus.WAITING_FOR_QUOTA).update(
        status=RunStatus.RUNNING, status_message=""
    )


def run_heartbeat(*, run_id: int, now: Any) -> None:
    """Stamp the run's heartbeat, at most every few seconds: the run row is also what every
    batch's save locks for its counters, and an UPDATE whose WHERE does not match locks
    nothing, so eight threads claiming 19 batches a second do not queue on it."""
    fresh = now - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS / 4)
    Run.objects.filter(pk=run_id).filter(
        Q(worker_seen_at__isnull=True) | Q(worker_seen_at__lt=fresh)
    ).update(worker_seen_at=now)


def batches_release_orphaned(*, run_id: int) -> int:
    """Make pending again, at once, the run's batches leased by a process of this host that is
    gone (killed) or by this process with no live thread behind them (a thread that lost the
    database mid-batch). The attempt of the second kind is given back: the database failed,
    not the batch. Returns how many were released."""
    here = lease_holder_here()
    live = LIVE_LEASES.snapshot()
    released = 0
    leased = RunBatch.objects.filter(run_id=run_id, state=BatchState.LEASED)
    for pk, token, holder in leased.values_list("pk", "lease_token", "lease_holder"):
        ours = holder == here and token not in live
        if not (ours or lease_holder_gone(holder)):
            continue
        fields: dict[str, Any] = {
            "state": BatchState.PENDING,
            "lease_token": "",
            "lease_holder": "",
            "lease_expires_at": None,
            "last_error": "taken back: its worker stopped before finishing it",
        }
        if ours:
            fields["attempts"] = F("attempts") - 1
        released += RunBatch.objects.filter(
            pk=pk, state=BatchState.LEASED, lease_token=token
        ).update(**fields)
    return released


def batch_release_after_infrastructure_error(
    *,
    run_id: int,
    token: str,
    patience: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """The database or Redis (the limiter) failed while the batch leased under ``token`` was
    being claimed or loaded: make it pending again, its attempt given back, so any process can
    claim it as soon as things are back instead of after the lease.

    When the database itself is what failed the release fails too, so it is tried again with
    backoff until the database answers, for at most ``patience`` seconds (the lease, by
    default: after that the lease has expired and any claimer takes the batch). Giving up at
    once cost a PostgreSQL restart 58-63 s (docs/operations.md, "Faults survived"): the lease
    was held by a live pool process, so no other process could tell the batch was orphaned
    and it waited for its 60 s lease. Matched by token, so a batch whose claim half-happened
    (leased, then the run's heartbeat failed) is found too. True when a batch was released."""
    deadline = clock() + (settings.PIPELINE_BATCH_LEASE_SECONDS if patience is None else patience)
    tries = 0
    while True:
        try:
            return bool(
                RunBatch.objects.filter(
                    run_id=run_id, state=BatchState.LEASED, lease_token=token
                ).update(
                    state=BatchState.PENDING,
                    lease_token="",
                    lease_holder="",
                    lease_expires_at=None,
                    attempts=F("attempts") - 1,
                    last_error="our database or Redis failed mid-batch; not counted as an attempt",
                )
            )
        except INFRASTRUCTURE_ERRORS:
            if not connection.in_atomic_block:
                connection.close()  # this thread's broken connection; the next try opens one
            left = deadline - clock()
            if left <= 0:
                return False
            sleep(min(left, retry_delay(tries, base=0.5, cap=5.0)))
            tries += 1
