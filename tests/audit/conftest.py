"""Helpers for the audit tests: raw SQL behind the application's back, old events, stores."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.services import audit_event_record

ON_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the trigger is PostgreSQL-only",
)
TRIGGER = "audit_auditevent_append_only"


@contextmanager
def trigger_disabled():
    """Tamper as a DBA could: with the append-only trigger off (PostgreSQL) for this block."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")


def raw_sql(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


@pytest.fixture
def record_at(db):
    """Record an event as if it happened `days_ago` days ago (the chain stays valid)."""

    def _record(days_ago: float, **kwargs):
        moment = timezone.now() - timedelta(days=days_ago)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("audit.services.timezone.now", lambda: moment)
            return audit_event_record(**{"action": "test.event", "actor_label": "tester", **kwargs})

    return _record
