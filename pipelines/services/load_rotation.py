"""Which run a loader thread serves next: every run with due batches, in turn, skipping the
ones whose portal has no free slot right now.

A load task is woken for one run, but its threads serve every run with due work. Each
portal's budget is its own (the shared limiter, one Redis key per portal), so three portals'
imports can go at their three full rates at once on the same threads, instead of taking turns
on the worker processes: a thread that would wait for portal A's window serves portal B
meanwhile (docs/operations.md, "Many portals"). Fair by construction: the threads go round
the runs in turn, and no portal can take more than its own budget.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from integrations.registry import budget_for
from pipelines.models import BatchState, RunBatch, Workflow
from pipelines.services.load_outcomes import BatchOutcome
from pipelines.services.loading import batch_load_next

# How often the list of runs with due work is read again (one query per task per interval).
REFRESH_SECONDS = 1.0
# The outcome of a turn spent waiting for a portal's window: no batch loaded.
WAITED = "waited"
# Longest nap when every run's portal is at its limit: a slot frees within the window anyway.
FULL_NAP_SECONDS = 0.25


def runs_with_due_batches() -> list[int]:
    """Runs with a batch to claim now: pending and available, or leased with a lapsed lease."""
    now = timezone.now()
    due = RunBatch.objects.filter(
        Q(state=BatchState.PENDING, available_at__isnull=True)
        | Q(state=BatchState.PENDING, available_at__lte=now)
        | Q(state=BatchState.LEASED, lease_expires_at__lt=now)
    )
    return sorted(set(due.values_list("run_id", flat=True)))


class LoadRotation:
    """The runs one load task's threads serve. Shared by those threads; cheap to ask."""

    def __init__(
        self,
        *,
        run_id: int,
        transport: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run_id = run_id
        self._transport = transport
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._runs: list[int] = [run_id]
        self._read_at = float("-inf")
        self._turn = itertools.count()
        self._budgets: dict[int, Any] = {}

    def load_next(self) -> BatchOutcome | None:
        """Claim and load the next due batch of some run, in turn; sleep briefly and return
        the "waited" outcome when every run's portal is full; None when nothing is due."""
        runs = self._current_runs()
        start = next(self._turn)
        waits = []
        for offset in range(len(runs)):
            run_id = runs[(start + offset) % len(runs)]
            wait = self._budget_wait(run_id)
            if wait > 0:
                waits.append(wait)
                continue
            outcome = batch_load_next(run_id=run_id, transport=self._transport)
            if outcome is not None:
                return outcome
            self._forget(run_id)
        if waits:
            self._sleep(min(min(waits), FULL_NAP_SECONDS))
            return BatchOutcome(batch_id=0, state=WAITED)
        return None

    def _current_runs(self) -> list[int]:
        with self._lock:
            if self._clock() - self._read_at >= REFRESH_SECONDS:
                self._runs = sorted({self.run_id, *runs_with_due_batches()})
                self._read_at = self._clock()
            return list(self._runs)

    def _forget(self, run_id: int) -> None:
        # Nothing due in it now: skipped until the next read (it may be due again then).
        with self._lock:
            if run_id in self._runs and len(self._runs) > 1:
                self._runs.remove(run_id)

    def _budget_wait(self, run_id: int) -> float:
        """Seconds until the run's portal has a free slot (0: free now, or no limit kept)."""
        if run_id not in self._budgets:
            workflow = Workflow.objects.select_related("destination_connection").get(runs=run_id)
            connection = workflow.destination_connection
            self._budgets[run_id] = budget_for(connection) if connection else None
        budget = self._budgets[run_id]
        return budget.wait_time() if budget is not None else 0.0
