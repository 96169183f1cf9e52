"""The audit viewer: filters, keyset pages, the diff, CSV/JSON exports (audited, formula-safe)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from audit.selectors import AuditFilters, audit_event_page
from audit.services import audit_event_record

pytestmark = pytest.mark.django_db
LIST = reverse("admin:audit_auditevent_changelist")
EXPORT = reverse("admin:audit_auditevent_export")


@pytest.fixture
def log(db):
    audit_event_record(
        action="connection.changed",
        actor_label="erin",
        object_type="integrations.connection",
        object_id="7",
        object_repr="HubSpot prod",
        changes={"read_timeout": [10, 30]},
    )
    audit_event_record(action="auth.login", actor_label="alice")
    audit_event_record(action="auth.login_failed", actor_label="mallory")
    audit_event_record(
        action="workflow.changed",
        actor_label="alice",
        object_type="pipelines.workflow",
        object_id="3",
        object_repr='=HYPERLINK("http://evil")',
    )


def shown_actions(response) -> list[str]:
    # The viewer's own login (force_login) and denials are in the log too; leave them out.
    return [e.action for e in response.context["page"].events if e.actor_label != "viewer-persona"]


def test_the_list_shows_newest_first(client, viewer, log):
    client.force_login(viewer)
    response = client.get(LIST)
    assert response.status_code == 200
    assert shown_actions(response)[:4] == [
        "workflow.changed",
        "auth.login_failed",
        "auth.login",
        "connection.changed",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "alice"}, ["workflow.changed", "auth.login"]),
        ({"action": "auth.login"}, ["auth.login"]),
        ({"action": "auth.*"}, ["auth.login_failed", "auth.login"]),
        ({"object_type": "integrations.connection", "object_id": "7"}, ["connection.changed"]),
        ({"actor": "alice", "action": "auth.*"}, ["auth.login"]),
    ],
)
def test_filters_by_actor_action_and_object(client, viewer, log, query, expected):
    client.force_login(viewer)
    assert shown_actions(client.get(LIST, query)) == expected


def test_filters_by_date_range(client, viewer, log):
    from django.utils import timezone

    client.force_login(viewer)
    today = timezone.now().date()
    assert (
        len(
            shown_actions(
                client.get(LIST, {"date_from": today.isoformat(), "date_to": today.isoformat()})
            )
        )
        >= 4
    )
    assert shown_actions(client.get(LIST, {"date_to": "2020-01-01"})) == []


def test_keyset_pages_walk_the_whole_log_without_offset_or_count(db):
    events = [
        audit_event_record(action="bulk.event", actor_label="bot", metadata={"i": i})
        for i in range(7)
    ]
    filters = AuditFilters(action="bulk.event")
    with CaptureQueriesContext(connection) as queries:
        first = audit_event_page(filters=filters, size=3)
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql
    assert "LIMIT 4" in sql
    second = audit_event_page(filters=filters, before=first.older_than, size=3)
    third = audit_event_page(filters=filters, before=second.older_than, size=3)
    walked = [e.pk for page in (first, second, third) for e in page.events]
    assert walked == [e.pk for e in reversed(events)]
    assert third.older_than is None
    back = audit_event_page(filters=filters, after=second.newer_than, size=3)
    assert [e.pk for e in back.events] == [e.pk for e in first.events]


def test_the_list_page_links_to_the_next_page_by_id(client, viewer, db):
    for i in range(55):
        audit_event_record(action="bulk.event", actor_label="bot", metadata={"i": i})
    client.force_login(viewer)
    response = client.get(LIST, {"action": "bulk.event"})
    older = response.context["page"].older_than
    assert f"before={older}".encode() in response.content
    assert len(shown_actions(client.get(LIST, {"action": "bulk.event", "before": older}))) == 5


def test_the_detail_page_shows_the_diff(client, viewer, log):
    event = AuditEvent.objects.get(action="connection.changed")
    client.force_login(viewer)
    response = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert response.status_code == 200
    assert response.context["diff_rows"] == [{"field": "read_timeout", "old": 10, "new": 30}]
    assert event.hash.encode() in response.content


def test_a_missing_event_is_a_404(client, viewer, db):
    client.force_login(viewer)
    assert client.get(reverse("admin:audit_auditevent_change", args=[999999])).status_code == 404


def test_the_csv_export_holds_the_filtered_events_with_formulas_defused(client, viewer, log):
    client.force_login(viewer)
    response = client.get(EXPORT, {"actor": "alice", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["workflow.changed", "auth.login"]
    assert rows[0]["object_repr"] == '\'=HYPERLINK("http://evil")'


def test_the_json_export_holds_the_filtered_events_with_their_diffs_and_hashes(client, viewer, log):
    client.force_login(viewer)
    response = client.get(EXPORT, {"object_type": "integrations.connection", "format": "json"})
    items = json.loads(b"".join(response.streaming_content))
    assert len(items) == 1
    assert items[0]["changes"] == {"read_timeout": [10, 30]}
    assert len(items[0]["hash"]) == 64


def test_the_export_is_itself_audited_with_its_filters(client, viewer, log):
    client.force_login(viewer)
    b"".join(client.get(EXPORT, {"actor": "alice", "format": "csv"}).streaming_content)
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.actor_id == viewer.pk
    assert event.metadata == {"format": "csv", "filters": {"actor": "alice"}, "rows": 2}


def test_an_unknown_export_format_is_refused(client, viewer, log):
    client.force_login(viewer)
    assert client.get(EXPORT, {"format": "xlsx"}).status_code == 400
