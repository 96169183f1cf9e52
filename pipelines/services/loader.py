"""The concurrent loader: a load task keeps several batch calls in flight.

A run's load task (``pipelines.run_load``) starts PIPELINE_LOAD_THREADS threads; each claims
the next due batch from the database (batch_claim_next: SKIP LOCKED on PostgreSQL), loads it,
and claims again, until nothing is due or the task's slice (PIPELINE_LOAD_SLICE_SECONDS) is
over. The threads serve the task's run and every other run with due batches, in turn
(load_rotation: several portals load at once, each at its own rate). The threads share each
portal's limiter, which admits as many calls as the portal allows; a thread waiting for a
slot or for HubSpot costs a few hundred kilobytes, not a process (docs/operations.md,
"Concurrency of the loader", has the figures behind that choice).

When the slice is over the task wakes the run again at the back of the queue, so runs of
several portals take turns on few worker processes. When nothing is due yet (backoff, a 429
window) it wakes the run when the first batch is due. A lost wake-up costs the sweeper's
interval: the sweeper wakes every run with due work and no worker heartbeat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from pipelines.models import BatchState, Run, RunBatch, RunStatus
from pipelines.services.batch_claims import batches_release_orphaned
from pipelines.services.load_rotation import WAITED, LoadRotation

# Wake-ups further out than this are left to the sweeper (it wakes every run with due work):
# a Celery countdown that long sits in Redis as an unacked message, redelivered in a loop.
LONGEST_WAKE_COUNTDOWN = 300.0


@dataclass
class LoadSlice:
    """What one load task did, and when the run wants a worker again."""

    run_id: int
    batches: int = 0
    finished: bool = False
    wake_in: float | None = None  # seconds; None: no wake-up needed (finished, or the sweeper's)


def run_load(
    *,
    run_id: int,
    threads: int | None = None,
    slice_seconds: float | None = None,
    transport: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoadSlice:
    """Load the run's due batches with ``threads`` concurrent claimers for up to
    ``slice_seconds``. An infrastructure error (database gone) in any thread is raised once
    the others stopped: the task retries, the batches stay in the database."""
    threads = threads or settings.PIPELINE_LOAD_THREADS
    deadline = clock() + (slice_seconds or settings.PIPELINE_LOAD_SLICE_SECONDS)
    batches_release_orphaned(run_id=run_id)
    caller = threading.current_thread()

    rotation = LoadRotation(run_id=run_id, transport=transport)

    def claim_until_done() -> int:
        loaded = 0
        try:
            while clock() < deadline:
                outcome = rotation.load_next()
                if outcome is None:
                    break
                loaded += outcome.state != WAITED
        finally:
            if threading.current_thread() is not caller:
                connections.close_all()  # this thread's own connections
        return loaded

    if threads == 1:
        done = claim_until_done()
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"load-{run_id}") as pool:
            futures = [pool.submit(claim_until_done) for _ in range(threads)]
        done = sum(future.result() for future in futures)
    return LoadSlice(
        run_id=run_id, batches=done, **_next_wake(run_id, out_of_time=clock() >= deadline)
    )


def _next_wake(run_id: int, *, out_of_time: bool) -> dict[str, Any]:
    run = Run.objects.only("status").get(pk=run_id)
    if run.is_finished:
        return {"finished": True}
    pending = RunBatch.objects.filter(run_id=run_id, state=BatchState.PENDING)
    if out_of_time:
        return {"wake_in": 0.0}  # more to do: back of the queue, other runs take their turn
    first = pending.order_by("available_at").values_list("available_at", flat=True).first()
    if first is None and not pending.exists():
        return {}  # the rest is leased by other loaders; they finish the run
    wait = max(0.0, (first - timezone.now()).total_seconds()) if first else 0.0
    return {"wake_in": wait if wait <= LONGEST_WAKE_COUNTDOWN else None}


def run_load_inline(
    *,
    run_id: int,
    transport: Any = None,
    honour_backoff: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = 30.0,
    threads: int | None = None,
) -> Run:
    """The load task's loop in this process, for `import_csv --inline`, the demo seed and
    tests. Stops when the run finishes or waits for a daily quota. ``honour_backoff=False``
    makes every pending batch due at once (tests must not sleep)."""
    while True:
        run = Run.objects.get(pk=run_id)
        if run.is_finished:
            return run
        if not honour_backoff and run.status != RunStatus.WAITING_FOR_QUOTA:
            now = timezone.now()
            RunBatch.objects.filter(
                run_id=run_id, state=BatchState.PENDING, available_at__gt=now
            ).update(available_at=now)
        loaded = run_load(run_id=run_id, threads=threads, transport=transport)
        run = Run.objects.get(pk=run_id)
        if loaded.finished or run.status == RunStatus.WAITING_FOR_QUOTA:
            return run
        if loaded.batches:
            continue
        if loaded.wake_in is None:
            return run  # leased by another process, or due beyond the wake horizon
        sleep(min(max_wait, max(loaded.wake_in, 0.05)))
