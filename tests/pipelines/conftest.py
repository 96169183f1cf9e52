"""Pipelines tests: HTTP is stubbed at one boundary, the HubSpot sandbox, reached in-process
through httpx.WSGITransport. Services run for real against the database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pipelines.models import Run, RunBatch, RunRecord
from pipelines.services.runs import run_execute_inline, run_prepare
from pipelines.services.staging import run_create_csv
from sandbox.hubspot import HubSpotSandbox
from tests.pipelines.factories import WorkflowFactory

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "docs" / "samples" / "clay-contacts.csv"
HEADERS = [
    "Email",
    "First Name",
    "Last Name",
    "Company Name",
    "Job Title",
    "Phone",
    "Country",
    "Website",
    "LinkedIn URL",
]


@pytest.fixture
def workflow(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return WorkflowFactory()


def contact_rows(n: int, *, start: int = 0, **overrides) -> list[dict[str, str]]:
    rows = []
    for i in range(start, start + n):
        row = {
            "Email": f"person{i}@acme-analytics.com",
            "First Name": f"First{i}",
            "Last Name": f"Last{i}",
            "Company Name": "Acme",
            "Job Title": "VP Marketing",
            "Phone": "+1 650 253 0000",
            "Country": "United States",
            "Website": "acme-analytics.com",
            "LinkedIn URL": "",
        }
        row.update(overrides)
        rows.append(row)
    return rows


def csv_bytes(
    rows: list[dict[str, str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    headers: list[str] | None = None,
) -> bytes:
    headers = headers or list(rows[0]) if rows else HEADERS
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=headers, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def import_rows(
    workflow, rows=None, *, data: bytes | None = None, filename: str = "contacts.csv"
) -> Run:
    """Upload, stage and load a CSV in this process (no worker), exactly as the tasks would."""
    data = data if data is not None else csv_bytes(rows)
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(data),
        filename=filename,
        actor_label="test",
        dispatch=False,
    )
    return run_execute_inline(run_id=run.pk, honour_backoff=False)


def assert_invariant(run: Run) -> None:
    run.refresh_from_db()
    assert run.is_finished, run.status
    assert run.records_in == run.succeeded + run.dead_lettered + run.skipped
    assert run.dead_letters.count() == run.dead_lettered


def upsert_calls(sandbox: HubSpotSandbox) -> int:
    return sum(
        1
        for method, path, *_ in sandbox.request_log
        if method == "POST" and path.endswith("/batch/upsert")
    )


def sandbox_emails(sandbox: HubSpotSandbox) -> list[str]:
    return [c["properties"]["email"] for c in sandbox.objects("contacts")]


def staged_run(workflow, rows: int, *, start: int = 0) -> Run:
    """A CSV run of ``rows`` contacts (emails from ``start`` on), staged and batched in this
    process, not loaded."""
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(rows, start=start))),
        filename="c.csv",
        dispatch=False,
    )
    return run_prepare(run_id=run.pk, dispatch=False)


def batched_positions(run: Run) -> list[int]:
    """Positions of the run's records in its batches, in the batches' (loading) order."""
    positions = dict(RunRecord.objects.filter(run=run).values_list("pk", "position"))
    return [
        positions[pk]
        for ids in RunBatch.objects.filter(run=run)
        .order_by("sequence")
        .values_list("record_ids", flat=True)
        for pk in ids
    ]
