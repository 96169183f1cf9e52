"""The viewer stays fast on a million events: every filter walks an index, never the table.

PostgreSQL only (the production database); about 15 s to insert the rows.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from audit.selectors import AuditFilters, audit_event_page, audit_event_queryset
from tests.audit.conftest import ON_POSTGRES

pytestmark = [ON_POSTGRES, pytest.mark.postgres, pytest.mark.django_db]

FILTERS = [
    AuditFilters(),
    AuditFilters(actor="user7"),
    AuditFilters(action="connection.changed"),
    AuditFilters(action="auth.*"),
    AuditFilters(object_type="pipelines.workflow", object_id="42"),
]


@pytest.fixture
def million_events():
    # Straight SQL: the rows only need realistic shapes and an up-to-date planner, not a chain.
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO audit_auditevent (created_at, actor_label, action, object_type, object_id, object_repr,
                                          changes, metadata, user_agent, request_id, prev_hash, hash)
            SELECT now() - interval '1 second' * (1000000 - g), 'user' || (g % 50),
                   (ARRAY['auth.login', 'auth.logout', 'connection.changed', 'workflow.changed', 'run.reprocessed'])[1 + g % 5],
                   'pipelines.workflow', (g % 1000)::text, 'wf', '{}', '{}', '', '', '', ''
            FROM generate_series(1, 1000000) AS g
        """)
        cursor.execute("ANALYZE audit_auditevent")


def test_every_filter_pages_from_an_index_in_milliseconds(million_events):
    # One test for all filters: the million rows are inserted once.
    for filters in FILTERS:
        started = time.perf_counter()
        first = audit_event_page(filters=filters)
        second = audit_event_page(filters=filters, before=first.older_than)
        elapsed = time.perf_counter() - started
        assert len(first.events) == len(second.events) == 50
        assert elapsed < 0.5, f"{filters}: two pages took {elapsed:.3f}s"
        page = (
            audit_event_queryset(filters=filters)
            .filter(id__lt=first.older_than)
            .order_by("-id")[:51]
        )
        sql, params = page.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan" not in plan, f"{filters}:\n{plan}"
