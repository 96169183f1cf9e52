"""Screens tests: the Django test client as each persona, the HubSpot sandbox in-process
(httpx.WSGITransport) as every client's transport, services run for real."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.cache import cache

from pipelines.models import DeadLetter, Run
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv
from tests.pipelines.factories import WorkflowFactory

HEADERS = ["Email", "First Name", "Last Name", "Company Name", "Job Title"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The property list is cached for minutes; tests must not see each other's portal.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def workflow(db, settings, tmp_path, sandbox):
    settings.MEDIA_ROOT = tmp_path / "media"
    return WorkflowFactory()


def csv_bytes(
    rows: list[list[str]],
    *,
    headers: list[str] = HEADERS,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


GOOD_ROWS = [
    ["ada@acme-analytics.com", "Ada", "Lovelace", "Acme", "VP Marketing"],
    ["grace@globex.io", "Grace", "Hopper", "Globex", '=HYPERLINK("http://evil")'],
]
BAD_ROW = ["not-an-email", "Alan", "Turing", "Initech", "Sales Director"]


@pytest.fixture
def finished_run(workflow) -> Run:
    """A partial run: two contacts loaded into the sandbox, one invalid email dead-lettered."""
    data = csv_bytes([*GOOD_ROWS, BAD_ROW])
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(data),
        filename="contacts.csv",
        actor_label="test",
        dispatch=False,
    )
    return run_execute_inline(run_id=run.pk, honour_backoff=False)


@pytest.fixture
def dead_letter(finished_run) -> DeadLetter:
    return finished_run.dead_letters.get()


def client_as(client, user):
    client.force_login(user)
    return client
