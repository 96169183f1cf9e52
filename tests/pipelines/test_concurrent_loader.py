"""The concurrent loader: batches claimed from the database by several threads of one task,
sharing the portal's limiter. Invariants under concurrency: no batch loaded twice, counts
exact, leases taken back from dead holders, the limiter never exceeded, infrastructure errors
never spent as an attempt."""

from __future__ import annotations

import io
import os
import threading
from datetime import timedelta

import httpx
import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from integrations import registry
from pipelines import tasks
from pipelines.claims import lease_holder_here
from pipelines.models import BatchState, DeadLetter, Run, RunBatch, RunStatus
from pipelines.selectors import run_progress, runs_stalled
from pipelines.services import batch_claims, loading
from pipelines.services.loader import run_load
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv
from pipelines.services.sweepers import runs_sweep
from sandbox.hubspot import HubSpotSandbox
from tests.pipelines.conftest import (
    assert_invariant,
    contact_rows,
    csv_bytes,
    staged_run,
    upsert_calls,
)
from tests.pipelines.factories import WorkflowFactory

on_postgres_and_redis = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
    reason="threads need committed rows (PostgreSQL) and a shared limiter (Redis)",
)


class InFlight:
    """WSGI middleware counting the requests the sandbox is serving at the same moment."""

    def __init__(self, app):
        self.app, self.now, self.peak = app, 0, 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.now -= 1


@on_postgres_and_redis
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_threads_load_every_batch_once_within_the_portals_limit(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    # The portal allows 20 calls per 2 s; we admit 18 (a margin below 50 calls is ours to set).
    sandbox = HubSpotSandbox(rate_limit=20, window_seconds=2, latency_ms=150, seed=11)
    counting = InFlight(sandbox)
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=counting))
    workflow = WorkflowFactory(
        destination_connection__rate_limit_requests=18,
        destination_connection__rate_limit_seconds=2,
    )
    run = staged_run(workflow, 3000)

    run = run_execute_inline(run_id=run.pk, threads=6)

    assert_invariant(run)
    assert (run.status, run.succeeded, run.batches_done) == (RunStatus.SUCCESS, 3000, 30)
    assert upsert_calls(sandbox) == 30  # no batch sent twice
    emails = [c["properties"]["email"] for c in sandbox.objects("contacts")]
    assert len(emails) == len(set(emails)) == 3000
    assert 1 < counting.peak <= 6  # several calls in flight, never more than the threads
    statuses = [status for _m, _p, status, _t in sandbox.request_log]
    # The portal's own verdict: the sandbox counts the calls its window limits on arrival, as
    # HubSpot does, and refused none. (Re-counting every line of its request log here, reads
    # included, once read 21 in a 2 s window on a starved machine while the sandbox's own
    # window, the one that answers 429, was never over.)
    assert 429 not in statuses
    assert set(RunBatch.objects.filter(run=run).values_list("attempts", flat=True)) == {1}


@on_postgres_and_redis
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_portals_load_together_each_within_its_own_limit(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    # Each portal allows 20 calls per 2 s (the sandbox keeps a window per token); we admit 18.
    sandbox = HubSpotSandbox(rate_limit=20, window_seconds=2, latency_ms=100, seed=12)
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=sandbox))
    portals = [
        WorkflowFactory(
            destination_connection__token=f"pat-na1-00000000-portal-{n}-0000",
            destination_connection__rate_limit_requests=18,
            destination_connection__rate_limit_seconds=2,
        )
        for n in (1, 2)
    ]
    runs = [
        staged_run(workflow, 2000) if n == 0 else staged_run(workflow, 2000, start=5000)
        for n, workflow in enumerate(portals)
    ]

    loaded = run_load(run_id=runs[0].pk, threads=6)  # woken for the first portal only

    assert loaded.finished
    spans = []
    for run in runs:
        assert_invariant(run)  # both finished by the one task
        assert (run.status, run.succeeded, run.batches_done) == (RunStatus.SUCCESS, 2000, 20)
        finished = RunBatch.objects.filter(run=run).values_list("finished_at", flat=True)
        spans.append((min(finished), max(finished)))
    # Loaded together, not one after the other: each run's batches ended while the other's did.
    assert spans[0][0] < spans[1][1]
    assert spans[1][0] < spans[0][1]
    assert upsert_calls(sandbox) == 40  # no batch sent twice
    assert 429 not in [status for _m, _p, status, _t in sandbox.request_log]


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_leases_of_a_killed_process_and_of_a_lost_thread_are_taken_back_at_once(workflow, sandbox):
    run = staged_run(workflow, 250)
    first, second, third = RunBatch.objects.filter(run=run).order_by("sequence")
    far = timezone.now() + timedelta(minutes=10)  # the lease alone would hold them this long
    host = lease_holder_here().rpartition(":")[0]
    RunBatch.objects.filter(pk=first.pk).update(
        state=BatchState.LEASED,
        lease_token="killed",
        lease_holder=f"{host}:{_dead_pid()}",
        lease_expires_at=far,
        attempts=1,
    )
    # This process's thread lost the database mid-batch: no live thread holds the token.
    RunBatch.objects.filter(pk=second.pk).update(
        state=BatchState.LEASED,
        lease_token="lost",
        lease_holder=lease_holder_here(),
        lease_expires_at=far,
        attempts=1,
    )

    loaded = run_load(run_id=run.pk)

    assert (loaded.batches, loaded.finished) == (3, True)
    assert_invariant(run)
    attempts = dict(RunBatch.objects.filter(run=run).values_list("pk", "attempts"))
    # The killed holder's try counts; the database failing under a live process does not.
    assert attempts == {first.pk: 2, second.pk: 1, third.pk: 1}


@pytest.mark.parametrize(
    ("database_answers", "left_as"),
    [
        (True, BatchState.PENDING),  # Redis (the limiter) failed: released at once
        (False, BatchState.LEASED),  # the database is down: left for this process to take back
    ],
)
def test_an_infrastructure_error_mid_batch_is_retried_and_never_spends_an_attempt(
    workflow, sandbox, monkeypatch, settings, database_answers, left_as
):
    settings.PIPELINE_BATCH_MAX_ATTEMPTS = 1  # one spent attempt would dead-letter the batch
    real_save = loading.batch_verdict_save
    failures = []

    def database_restarting(**kwargs):
        if not failures:
            failures.append(True)
            raise OperationalError("the database system is starting up")
        return real_save(**kwargs)

    monkeypatch.setattr(loading, "batch_verdict_save", database_restarting)
    if not database_answers:
        monkeypatch.setattr(loading, "batch_release_after_infrastructure_error", lambda **_: False)
    run = staged_run(workflow, 100)

    with pytest.raises(OperationalError):
        run_load(run_id=run.pk)
    batch = RunBatch.objects.get(run=run)
    assert batch.state == left_as
    assert batch.attempts == (0 if database_answers else 1)
    assert not DeadLetter.objects.exists()

    loaded = run_load(run_id=run.pk)  # the task's retry, once things are back

    assert loaded.finished
    assert_invariant(run)
    batch.refresh_from_db()
    assert (batch.state, batch.attempts) == (BatchState.DONE, 1)
    assert not DeadLetter.objects.exists()
    assert upsert_calls(sandbox) == 2  # the first call's write was lost with our record of it
    assert len({c["properties"]["email"] for c in sandbox.objects("contacts")}) == 100


def _leased_by_a_thread_here(run: Run, token: str) -> RunBatch:
    batch = RunBatch.objects.get(run=run)
    RunBatch.objects.filter(pk=batch.pk).update(
        state=BatchState.LEASED,
        lease_token=token,
        lease_holder=lease_holder_here(),
        lease_expires_at=timezone.now() + timedelta(minutes=5),
        attempts=1,
    )
    return batch


def _database_down_for(monkeypatch, tries: int | None) -> None:
    """RunBatch writes fail ``tries`` times (None: always), as during a PostgreSQL restart."""
    real_filter = RunBatch.objects.filter
    failed = []

    def restarting(*args, **kwargs):
        if tries is None or len(failed) < tries:
            failed.append(True)
            raise OperationalError("the database system is starting up")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(batch_claims.RunBatch.objects, "filter", restarting)


def test_a_release_that_meets_the_database_down_is_tried_until_the_database_answers(
    workflow, monkeypatch
):
    # Otherwise the batch waits for its lease: a live pool process holds it, so no other
    # process can tell it is orphaned (a PostgreSQL restart cost 58-63 s that way).
    run = staged_run(workflow, 100)
    batch = _leased_by_a_thread_here(run, "lost-mid-batch")
    _database_down_for(monkeypatch, tries=3)
    slept: list[float] = []

    released = batch_claims.batch_release_after_infrastructure_error(
        run_id=run.pk, token="lost-mid-batch", sleep=slept.append
    )

    assert released
    assert len(slept) == 3
    assert all(0 < s <= 5 for s in slept)
    batch.refresh_from_db()
    assert (batch.state, batch.attempts, batch.lease_token) == (BatchState.PENDING, 0, "")


def test_a_release_gives_up_when_the_lease_would_have_expired_anyway(workflow, monkeypatch):
    run = staged_run(workflow, 100)
    batch = _leased_by_a_thread_here(run, "lost-mid-batch")
    _database_down_for(monkeypatch, tries=None)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    released = batch_claims.batch_release_after_infrastructure_error(
        run_id=run.pk, token="lost-mid-batch", patience=20, sleep=sleep, clock=lambda: now[0]
    )

    assert not released
    assert 20 <= now[0] < 25  # waited out its patience, not longer
    monkeypatch.undo()
    batch.refresh_from_db()
    assert (batch.state, batch.attempts) == (BatchState.LEASED, 1)  # left for its lease


def test_the_load_task_retries_on_an_infrastructure_error(workflow, monkeypatch):
    def broken(**_kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    retried = {}

    def retry(*, countdown, exc):
        retried.update(countdown=countdown, exc=exc)
        return Retry()

    monkeypatch.setattr(tasks, "run_load", broken)
    monkeypatch.setattr(tasks.run_load_task, "retry", retry)

    with pytest.raises(Retry):
        tasks.run_load_task(1)

    assert 0.5 <= retried["countdown"] <= 1.0  # first retry: a second, half of it jitter
    assert isinstance(retried["exc"], OperationalError)


def test_hubspot_unavailable_defers_the_whole_run_and_dead_letters_nothing(
    workflow, sandbox, settings
):
    settings.PIPELINE_BATCH_MAX_ATTEMPTS = 1
    sandbox.set_faults({"503": 1.0})
    run = staged_run(workflow, 300)

    loaded = run_load(run_id=run.pk)

    assert not loaded.finished
    assert 0 < loaded.wake_in <= 15  # one probe per OUTAGE_RETRY_SECONDS, not a call per batch
    assert upsert_calls(sandbox) <= 1 + 4  # one batch tried (and the client's own retries)
    assert not DeadLetter.objects.exists()
    assert set(RunBatch.objects.filter(run=run).values_list("attempts", flat=True)) == {0}

    sandbox.set_faults({})  # HubSpot is back
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)
    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered) == (RunStatus.SUCCESS, 300, 0)


def test_a_run_without_progress_is_marked_stalled_with_the_reason_until_it_moves(
    workflow, sandbox, settings
):
    run = staged_run(workflow, 150)
    first = RunBatch.objects.filter(run=run).order_by("sequence").first()
    RunBatch.objects.filter(pk=first.pk).update(last_error="HubSpot POST -> 503: server error")
    long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_RUN_STALLED_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(started_at=long_ago, progress_at=long_ago)

    assert runs_sweep()["stalled"] == 1
    assert runs_sweep()["stalled"] == 0  # marked once
    assert list(runs_stalled()) == [run]
    run.refresh_from_db()
    assert run.stall_reason == "No progress; last error: HubSpot POST -> 503: server error"
    assert run_progress(run_id=run.pk)["stalled"] is True

    run_load(run_id=run.pk)  # it moves again, and finishes

    run.refresh_from_db()
    assert (run.stalled_at, run.stall_reason) == (None, "")
    assert list(runs_stalled()) == []


def test_a_run_no_worker_picks_up_says_so(workflow, settings):
    run = staged_run(workflow, 10)
    long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_RUN_STALLED_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(started_at=long_ago, progress_at=long_ago)

    runs_sweep()

    run.refresh_from_db()
    assert run.stall_reason.startswith("No worker has picked this run up")


def test_waiting_for_a_daily_quota_is_not_a_stall(workflow, settings):
    run = staged_run(workflow, 10)
    long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_RUN_STALLED_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(started_at=long_ago, status=RunStatus.WAITING_FOR_QUOTA)

    assert runs_sweep()["stalled"] == 0


def test_a_load_task_gives_its_process_back_after_its_slice_so_other_runs_take_turns(
    workflow, sandbox
):
    run = staged_run(workflow, 300)
    ticks = iter(range(100))

    first = run_load(run_id=run.pk, slice_seconds=2.5, clock=lambda: float(next(ticks)))

    # One batch per tick of the fake clock: the slice ends after two batches with one left.
    assert (first.batches, first.finished, first.wake_in) == (2, False, 0.0)
    assert RunBatch.objects.filter(run=run, state=BatchState.PENDING).count() == 1
    last = run_load(run_id=run.pk)
    assert (last.batches, last.finished, last.wake_in) == (1, True, None)


def test_the_run_page_shows_a_stalled_run_with_its_reason(workflow, sandbox, client, viewer):
    from django.urls import reverse

    run = staged_run(workflow, 10)
    Run.objects.filter(pk=run.pk).update(
        stalled_at=timezone.now(), stall_reason="No progress; last error: HubSpot 503"
    )
    client.force_login(viewer)

    page = client.get(reverse("switchyard:run", args=[run.pk])).content.decode()

    assert 'id="run-stalled"' in page
    assert "No progress; last error: HubSpot 503" in page
    run_load(run_id=run.pk)  # it moves and finishes: no longer stalled
    assert (
        'id="run-stalled"'
        not in client.get(reverse("switchyard:run", args=[run.pk])).content.decode()
    )


def test_a_csv_run_whose_first_message_was_lost_is_prepared_by_the_runs_sweeper(
    workflow, monkeypatch, settings
):
    from pipelines import wakeups

    woken: list[int] = []
    monkeypatch.setattr(wakeups, "run_prepare_wake", lambda *, run_id: woken.append(run_id) or 1)
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(5))),
        filename="lost.csv",
        dispatch=False,  # committed, never published
    )
    assert runs_sweep()["prepared"] == 0  # just created: its message may still be on its way

    quiet = timezone.now() - timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(created_at=quiet)
    assert runs_sweep()["prepared"] == 1
    assert woken == [run.pk]


def test_a_worker_that_starts_sweeps_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.batches_sweep_task, "delay", lambda: sent.append("batches"))
    monkeypatch.setattr(tasks.chunks_sweep_task, "delay", lambda: sent.append("chunks"))

    tasks.sweep_when_a_worker_starts(sender=None)

    assert sent == ["batches", "chunks"]
