"""The operations layer end to end, on the demo's data: the home shows the demo workflow, its
quality and an open alert; a revoked HubSpot token raises the critical alert to the Slack
stand-in at the next evaluation and resolves it when restored; a QA sample is reviewed in the
browser; diagnose names a broken mapping and an expired token."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from integrations import registry
from integrations.models import AuthType, Connection, RequestLog
from monitoring import diagnose
from monitoring.demo import DEMO_ALERTS_CHANNEL, monitoring_demo_seed
from monitoring.services import alerts_evaluate
from pipelines.models import Workflow
from pipelines.services.demo import RULES, demo_pipelines_seed
from pipelines.services.mappings import field_mapping_version_create
from quality.selectors import run_quality_latest
from sandbox.hubspot import HubSpotSandbox
from sandbox.slack import SlackSandbox
from tests.conftest import make_persona

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")


@pytest.fixture
def demo(monkeypatch):
    hubspot, slack = HubSpotSandbox(), SlackSandbox()
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=hubspot))
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=slack))
    monkeypatch.setattr(diagnose, "WORKERS_PING", lambda: ["demo-worker@laptop"])
    demo_pipelines_seed()
    monitoring_demo_seed()
    return hubspot, slack


def a_minute_passes() -> None:
    """The beat task evaluates every minute; calls older than a minute make it probe."""
    RequestLog.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    alerts_evaluate()


def test_operations_layer_on_the_demo(live_server, page, login_as, demo):
    hubspot, slack = demo
    login_as(make_persona("admin"))
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("tr.ops-workflow[data-workflow='clay-to-hubspot']")).to_be_visible()
    # The demo's last run measured below the 80 % critical threshold (its sample holds invalid
    # and incomplete rows on purpose); the page shows the measured figure and the alert for it.
    latest = run_quality_latest(workflow_id=Workflow.objects.get(slug="clay-to-hubspot").pk)
    assert latest is not None
    assert latest.score < 80
    expect(page.locator("tr.ops-quality[data-workflow='clay-to-hubspot'] .ops-score")).to_have_text(
        f"{latest.score:.1f} %"
    )
    expect(page.locator("tr.ops-alert")).to_have_count(1)
    expect(page.locator("tr.ops-alert")).to_contain_text(
        f"data quality {latest.score:.1f} % (threshold 80 %)"
    )

    # The portal revokes our token: the next evaluation (≤ 1 minute) raises the critical alert.
    hubspot.config.update({"tokens": ["pat-rotated-by-the-portal"]})
    a_minute_passes()
    posted = slack.messages(DEMO_ALERTS_CHANNEL)
    assert len(posted) == 1
    assert posted[0]["text"].startswith("[CRITICAL] api-auth-failure: hubspot-main")
    page.reload()
    expect(page.locator("#ops-alerts [data-severity='critical']")).to_have_text("1 critical")
    expect(page.locator("tr.ops-alert[data-kind='auth_failure']")).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/operations-auth-alert.png", full_page=True)
    a_minute_passes()
    assert len(slack.messages(DEMO_ALERTS_CHANNEL)) == 1  # still open: nothing new

    hubspot.config.update({"tokens": None})  # restored
    a_minute_passes()
    posted = slack.messages(DEMO_ALERTS_CHANNEL)
    assert len(posted) == 2
    assert posted[1]["text"].startswith("RESOLVED [critical] api-auth-failure")
    page.reload()
    expect(page.locator("#ops-alerts [data-severity='critical']")).to_have_text("0 critical")

    # Accuracy: a QA sample drawn and reviewed in the browser.
    page.locator("#ops-links").get_by_role("link", name="QA samples").click()
    page.select_option("#id_workflow", label="clay-to-hubspot")
    page.select_option("#id_size", "30")
    page.click("#qa-draw input[type=submit]")
    items = page.locator("tr.qa-item")
    count = items.count()
    assert 0 < count <= 30
    for i in range(count):
        verdict = "incorrect" if i == 0 else "correct"
        items.nth(i).locator(f"input[value={verdict}]").check()
    page.click("#qa-review input[type=submit]")
    expect(page.locator("#qa-summary .qa-accuracy")).to_contain_text(f"n={count})")
    expect(page.locator("#qa-summary .qa-accuracy")).to_contain_text(
        f"{round(100 * (count - 1) / count)} % correct"
    )
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/operations-qa.png", full_page=True)

    # Diagnose: a mapping to a property the portal does not have...
    workflow = Workflow.objects.get(slug="clay-to-hubspot")
    field_mapping_version_create(
        workflow=workflow,
        rules=[*RULES, {"from": "Score", "to": "clay_score_2024", "transforms": []}],
        actor_label="test",
    )
    page.goto(f"{live_server.url}/admin/")
    page.locator("tr.ops-workflow[data-workflow='clay-to-hubspot']").get_by_role(
        "link", name="Why isn't this syncing?"
    ).click()
    mapping = page.locator("tr.diagnose-check", has_text="mapping valid")
    expect(mapping).to_have_attribute("data-ok", "false")
    expect(mapping).to_contain_text("no contacts property named 'clay_score_2024'")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/operations-diagnose.png", full_page=True)

    # ...and an OAuth token that expired and cannot be refreshed.
    Connection.objects.filter(name="hubspot-main").update(
        auth_type=AuthType.OAUTH,
        access_token_expires_at=timezone.now() - timedelta(hours=2),
    )
    out = StringIO()
    call_command("diagnose", "clay-to-hubspot", "--json", stdout=out)
    checks = {c["name"]: c for c in json.loads(out.getvalue())["checks"]}
    credentials = checks["Are the credentials valid and the scopes sufficient?"]
    assert credentials["ok"] is False
    assert "the OAuth access token expired 2 h ago" in credentials["evidence"]
    assert credentials["fix"].startswith("The token expired: reconnect hubspot-main")
