"""The operations home in a browser: the landing page after login answers "is everything
healthy?" — workflows, an open alert, quality scores — and an alert is acknowledged there."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from integrations.models import RequestLog
from monitoring.models import Alert, AlertRule
from monitoring.services import alerts_evaluate
from pipelines.models import RunStatus
from quality.services import run_quality_measure
from tests.conftest import make_persona
from tests.factories import PASSWORD
from tests.monitoring.conftest import add_records, finished_run
from tests.pipelines.factories import HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")


def test_admin_lands_on_the_operations_home_and_acknowledges_an_alert(live_server, page):
    AlertRule.objects.all().delete()
    healthy = WorkflowFactory(slug="clay-to-hubspot", name="Clay → HubSpot contacts")
    for minutes in (600, 300, 5):
        run = finished_run(healthy, records_in=25, minutes_ago=minutes)
        add_records(run, [{"email": f"p{i}@acme.com"} for i in range(24)] + [{"email": ""}])
        run_quality_measure(run_id=run.pk)
    broken = WorkflowFactory(slug="apollo-to-hubspot", name="Apollo → HubSpot")
    finished_run(broken, status=RunStatus.FAILURE, minutes_ago=90, message="HubSpot 401")
    AlertRule.objects.create(name="workflow-failing", severity="critical", kind="workflow_failing")
    alerts_evaluate()
    for name in ("hubspot-syncs", "hubspot-routing"):  # two connections to one portal
        RequestLog.objects.create(
            connection=HubSpotConnectionFactory(name=name, portal_id="777010"), method="GET",
            path_template="/crm/v3/objects/{type}", status=200, rate_limit_max=190,
            rate_limit_remaining=57, daily_max=250_000, daily_remaining=200_000,
        )  # fmt: skip
    make_persona("admin")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin-persona")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    expect(page.locator("#operations-home")).to_be_visible()
    expect(page.locator("tr.ops-workflow")).to_have_count(2)
    expect(page.locator("tr[data-workflow='apollo-to-hubspot'][data-health='bad']")).to_be_visible()
    expect(page.locator("#ops-alerts [data-severity='critical']")).to_have_text("1 critical")
    expect(page.locator("tr.ops-alert")).to_contain_text("apollo-to-hubspot has failed")
    quality = page.locator("tr.ops-quality[data-workflow='clay-to-hubspot']")
    expect(quality.locator(".ops-score")).to_have_text("98.0 %")  # 74 of 75 emails, all well-formed
    expect(quality.locator("svg polyline")).to_have_count(1)
    quota = page.locator("tr.ops-quota-row[data-portal='777010']")
    expect(quota).to_have_count(1)  # one row for the portal, not one per connection
    expect(quota).to_contain_text("portal 777010 (hubspot-routing, hubspot-syncs)")
    expect(quota.locator(".ops-quota-burst")).to_have_text("70 %")
    expect(quota.locator(".ops-quota-daily")).to_have_text("20 %")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/operations-home.png", full_page=True)

    page.locator("tr.ops-alert").get_by_role("button", name="Acknowledge").click()
    expect(page.locator("tr.ops-alert")).to_contain_text("acknowledged by admin-persona")
    assert Alert.objects.get().acknowledged_at is not None
