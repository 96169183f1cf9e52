"""F2 of docs/reference/reliability.md#fault-tests: a whole worker process SIGKILLed mid-batch.

Real PostgreSQL, real Redis, a real `celery worker`, the sandbox served on a port. Redis keeps
the killed worker's message unacked for the visibility timeout (2 h); recovery must come from
the batch lease and the sweeper instead, with nothing lost and no duplicate in HubSpot. The
lease is shortened to 5 s so the test takes seconds, not minutes.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from config.celery import app
from pipelines.models import BatchState, Run, RunBatch, RunChunk, RunRecord, RunStatus
from pipelines.services.runs import run_prepare
from pipelines.services.staging import run_create_csv
from pipelines.services.sweepers import batches_sweep, chunks_sweep, runs_sweep
from sandbox.hubspot import HubSpotSandbox
from tests.pipelines.conftest import contact_rows, csv_bytes
from tests.pipelines.factories import WorkflowFactory

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5
HEARTBEAT_SECONDS = 3

pytestmark = [
    pytest.mark.skipif(
        not (
            os.environ.get("REDIS_URL")
            and os.environ.get("DATABASE_URL", "").startswith("postgres")
        ),
        reason="needs REDIS_URL and a PostgreSQL DATABASE_URL",
    ),
    pytest.mark.redis,
    pytest.mark.postgres,
]


def start_worker(name: str, media_root: Path, **extra_env: str) -> subprocess.Popen:
    params = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # The worker must use the test database this test writes to.
        "DATABASE_URL": f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}",
        "PIPELINE_BATCH_LEASE_SECONDS": str(LEASE_SECONDS),
        "PIPELINE_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "MEDIA_ROOT": str(media_root),  # the worker stages the uploaded file (in chunks)
        **extra_env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-c",
            "1",
            "-P",
            "prefork",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def sweep_until(run: Run, reached: Callable[[Run], bool], *, since: float, within: float) -> float:
    """Run the sweepers each second, as beat would every 10-30 s, until ``reached(run)``; the
    seconds it took since ``since``. Fails once ``within`` seconds have passed."""
    while True:
        batches_sweep()
        chunks_sweep()
        runs_sweep()
        run.refresh_from_db()
        if reached(run):
            return time.monotonic() - since
        assert time.monotonic() - since < within, f"not recovered: {run.status}"
        time.sleep(1)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)  # this process group is the worker we started, nothing else
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_is_recovered_by_lease_and_sweeper_without_duplicates(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.PIPELINE_WORKER_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    sandbox = HubSpotSandbox(latency_ms=1500, seed=3)
    server, _thread = sandbox.serve()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    app.control.purge()
    workers = []
    try:
        workflow = WorkflowFactory(destination_connection__base_url=base_url)
        run = run_create_csv(
            workflow=workflow,
            file=io.BytesIO(csv_bytes(contact_rows(300))),
            filename="kill.csv",
            dispatch=False,
        )
        first = start_worker("doomed", tmp_path)
        workers.append(first)
        run_prepare(run_id=run.pk)  # autocommit: the chunk task is published to Redis now

        deadline = time.monotonic() + 60
        while not RunBatch.objects.filter(run=run, state=BatchState.LEASED).exists():
            assert time.monotonic() < deadline, "the worker never leased a batch"
            time.sleep(0.2)
        time.sleep(0.5)  # inside the HubSpot call (1.5 s of latency)
        stop(first, signal.SIGKILL)
        killed_at = time.monotonic()
        assert RunBatch.objects.filter(run=run, state=BatchState.LEASED).count() >= 1

        workers.append(start_worker("rescuer", tmp_path))
        recovered_in = sweep_until(run, lambda r: r.is_finished, since=killed_at, within=90)
    finally:
        for worker in workers:
            stop(worker)
        server.shutdown()

    assert run.status == RunStatus.SUCCESS
    assert run.records_in == run.succeeded + run.dead_lettered + run.skipped == 300
    assert run.succeeded == 300
    emails = [c["properties"]["email"] for c in sandbox.objects("contacts")]
    assert len(emails) == len(set(emails)) == 300  # nothing lost, nothing duplicated
    assert recovered_in < LEASE_SECONDS + 30
    assert Run.objects.get(pk=run.pk).batches.filter(attempts__gt=1).count() >= 1


def chunk_locked(chunk_id: int) -> bool:
    """True while a worker holds the chunk's row lock, i.e. is inside its staging transaction."""
    try:
        with transaction.atomic():
            RunChunk.objects.select_for_update(nowait=True).filter(pk=chunk_id).exists()
    except DatabaseError:
        return True
    return False


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_chunk_is_recovered_and_every_row_is_staged_once(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PIPELINE_WORKER_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS  # here (the sweepers)
    sandbox = HubSpotSandbox(seed=4)
    server, _thread = sandbox.serve()
    app.control.purge()
    workers = []
    rows = 30_000
    try:
        workflow = WorkflowFactory(
            destination_connection__base_url=f"http://127.0.0.1:{server.server_address[1]}"
        )
        run = run_create_csv(
            workflow=workflow,
            file=io.BytesIO(csv_bytes(contact_rows(rows))),
            filename="big.csv",
            dispatch=False,
        )
        env: dict[str, str] = {}
        first = start_worker("doomed", tmp_path, **env)
        workers.append(first)
        run_prepare(run_id=run.pk)  # plans the file and publishes one task per chunk
        chunks = list(
            RunChunk.objects.filter(run=run).order_by("sequence").values_list("pk", flat=True)
        )
        assert len(chunks) == 4  # 1,000 rows first (loading starts early), then 10,000 each
        big = chunks[1]

        deadline = time.monotonic() + 60
        while not chunk_locked(big):
            assert time.monotonic() < deadline, "the worker never started staging"
            time.sleep(0.05)
        stop(first, signal.SIGKILL)  # mid-transaction: PostgreSQL rolls the chunk back
        killed_at = time.monotonic()
        assert RunChunk.objects.get(pk=big).staged_at is None

        workers.append(start_worker("rescuer", tmp_path, **env))
        recovered_in = sweep_until(
            run, lambda r: r.staged_at is not None, since=killed_at, within=60
        )
    finally:
        for worker in workers:
            stop(worker)
        server.shutdown()

    numbers = list(RunRecord.objects.filter(run=run).values_list("row_number", flat=True))
    assert len(numbers) == len(set(numbers)) == rows  # nothing lost, nothing staged twice
    assert run.records_in == rows
    assert recovered_in < HEARTBEAT_SECONDS + 30


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_batch_is_taken_over_at_once_not_after_its_lease(
    settings, tmp_path
):
    """F1: only the pool process dies; Celery re-delivers its task at once, and the new
    process takes the dead holder's lease over. The lease here is 10 minutes and the sweeper
    never runs, so nothing else could finish the run in time."""
    settings.MEDIA_ROOT = tmp_path
    sandbox = HubSpotSandbox(latency_ms=1500, seed=5)
    server, _thread = sandbox.serve()
    app.control.purge()
    worker = None
    try:
        workflow = WorkflowFactory(
            destination_connection__base_url=f"http://127.0.0.1:{server.server_address[1]}"
        )
        run = run_create_csv(
            workflow=workflow,
            file=io.BytesIO(csv_bytes(contact_rows(300))),
            filename="f1.csv",
            dispatch=False,
        )
        worker = start_worker("pool", tmp_path, PIPELINE_BATCH_LEASE_SECONDS="600")
        run_prepare(run_id=run.pk)

        deadline = time.monotonic() + 60
        while not (leased := RunBatch.objects.filter(run=run, state=BatchState.LEASED).first()):
            assert time.monotonic() < deadline, "the worker never leased a batch"
            time.sleep(0.2)
        time.sleep(0.5)  # inside the HubSpot call (1.5 s of latency)
        pool_pid = int(leased.lease_holder.rpartition(":")[2])
        assert pool_pid != worker.pid  # the pool process, not the worker's main process
        os.kill(pool_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        while not Run.objects.get(pk=run.pk).is_finished:
            assert time.monotonic() - killed_at < 60, "the killed batch was not taken over"
            time.sleep(0.5)
        recovered_in = time.monotonic() - killed_at
    finally:
        if worker is not None:
            stop(worker)
        server.shutdown()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCESS
    assert run.records_in == run.succeeded == 300
    emails = [c["properties"]["email"] for c in sandbox.objects("contacts")]
    assert len(emails) == len(set(emails)) == 300
    assert RunBatch.objects.get(pk=leased.pk).attempts == 2
    assert recovered_in < 30  # the lease alone would have held it for 10 minutes
