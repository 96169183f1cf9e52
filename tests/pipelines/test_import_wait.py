"""`import_csv --wait` with a real worker: the run goes to the worker (over Redis, on
PostgreSQL), the command waits with a progress bar on stderr and prints the same summary."""

from __future__ import annotations

import json
import os
import time

import pytest
from django.core.management import call_command

from config.celery import app
from pipelines.management.commands.import_csv import workers_answering
from pipelines.models import Run, RunStatus
from sandbox.hubspot import HubSpotSandbox
from tests.pipelines.conftest import contact_rows, csv_bytes
from tests.pipelines.factories import WorkflowFactory
from tests.pipelines.test_worker_killed import start_worker, stop

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


@pytest.mark.django_db(transaction=True)
def test_wait_hands_the_run_to_the_workers_and_shows_progress(settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path
    sandbox = HubSpotSandbox(latency_ms=50, seed=21)
    server, _thread = sandbox.serve()
    app.control.purge()
    worker = start_worker("waited-for", tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not workers_answering():  # the worker is booting
            assert time.monotonic() < deadline, "the worker never answered a ping"
        workflow = WorkflowFactory(
            destination_connection__base_url=f"http://127.0.0.1:{server.server_address[1]}"
        )
        path = tmp_path / "clay.csv"
        path.write_bytes(csv_bytes(contact_rows(1500)))

        call_command("import_csv", str(path), "--workflow", workflow.slug, "--wait", "--json")
    finally:
        stop(worker)
        server.shutdown()

    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    run = Run.objects.get(pk=summary["run_id"])
    assert (summary["status"], summary["succeeded"]) == (RunStatus.SUCCESS, 1500)
    assert run.records_in == run.succeeded + run.dead_lettered + run.skipped
    assert "No Celery worker answered" not in captured.err
    assert "loading" in captured.err
    assert "15/15" in captured.err  # the bar: batches done
    emails = [c["properties"]["email"] for c in sandbox.objects("contacts")]
    assert len(emails) == len(set(emails)) == 1500
