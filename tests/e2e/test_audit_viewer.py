"""An auditor (Viewer role) filters the audit log in the browser and downloads a CSV export."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from audit.services import audit_event_record
from tests.conftest import make_persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_auditor_filters_the_log_and_downloads_a_csv_export(live_server, page, login_as):
    auditor = login_as(make_persona("viewer"))
    audit_event_record(
        action="connection.changed",
        actor_label="erin",
        object_type="integrations.connection",
        object_id="7",
        object_repr="HubSpot prod",
        changes={"read_timeout": [10, 30]},
    )
    audit_event_record(
        action="auth.login_failed", actor_label="mallory", metadata={"username": "mallory"}
    )
    audit_event_record(
        action="workflow.changed",
        actor_label="erin",
        object_type="pipelines.workflow",
        object_id="3",
    )

    page.goto(f"{live_server.url}/admin/models/")
    page.click("tr.model-auditevent a[href$='/audit/auditevent/']")
    # The three above and the auditor's own login.
    expect(page.locator("tr.audit-event")).to_have_count(4)

    page.fill("#id_actor", "erin")
    page.fill("#id_action", "connection.*")
    page.click("#audit-filter-submit")
    rows = page.locator("tr.audit-event")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".audit-action")).to_have_text("connection.changed")

    rows.first.locator("a").first.click()
    expect(page.locator("#audit-diff")).to_contain_text("read_timeout")
    page.go_back()

    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.startswith("audit-events-")
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert [(r["actor_label"], r["action"]) for r in exported] == [("erin", "connection.changed")]

    export_event = AuditEvent.objects.get(action="audit.exported")
    assert export_event.actor_id == auditor.pk
    assert export_event.metadata["filters"] == {"actor": "erin", "action": "connection.*"}
