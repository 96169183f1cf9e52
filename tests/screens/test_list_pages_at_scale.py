"""List and detail pages read only what they show: the dead-letter queue never loads the JSON
of letters or records, and a finished run's page counts its records from its counters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _sql(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_the_queue_selects_no_json_of_letters_or_records(client, admin_user, dead_letter):
    client.force_login(admin_user)

    sql = _sql(client, reverse("switchyard:dead-letters"))

    listing = next(q for q in sql if "pipelines_deadletter" in q and "LIMIT" in q)
    assert '"raw"' not in listing
    assert '"source_row"' not in listing
    assert '"payload"' not in listing


def test_a_finished_runs_page_does_not_count_its_records(client, admin_user, finished_run):
    client.force_login(admin_user)

    sql = _sql(client, reverse("switchyard:run", args=[finished_run.pk]))

    assert not [q for q in sql if "COUNT(" in q.upper() and "pipelines_runrecord" in q]
    records = next(q for q in sql if "pipelines_runrecord" in q and "LIMIT" in q)
    assert '"raw"' not in records
