"""/metrics: Prometheus text for a scraper holding the token; nothing for anyone else."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integrations.models import RequestLog
from pipelines.models import RunStatus
from tests.monitoring.conftest import finished_run
from tests.pipelines.factories import HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-0123456789"


@pytest.fixture
def scraped(client, settings, no_default_rules):
    settings.METRICS_TOKENS = ["old-token-rotating-out", TOKEN]
    workflow = WorkflowFactory(slug="clay-to-hubspot")
    finished_run(workflow, duration_ms=3_000, records_in=10, dead_lettered=2)
    finished_run(workflow, duration_ms=400_000, records_in=5)
    finished_run(workflow, status=RunStatus.FAILURE, duration_ms=500)
    # Two connections to portal 4242 (syncs and routing) spend one budget: one series each.
    hubspot = HubSpotConnectionFactory(name="hubspot-main", portal_id="4242")
    routing = HubSpotConnectionFactory(name="hubspot-routing", portal_id="4242")
    unknown = HubSpotConnectionFactory(name="hubspot-new")  # portal not learned yet
    for status in (200, 200, 429):
        RequestLog.objects.create(
            connection=hubspot, method="POST", path_template="/crm/v3/objects/{type}/batch/upsert",
            status=status, rate_limit_max=100, rate_limit_remaining=25,
            daily_max=250_000, daily_remaining=200_000,
        )  # fmt: skip
    for connection in (routing, unknown):
        RequestLog.objects.create(
            connection=connection, method="GET", path_template="/crm/v3/objects/{type}",
            status=200, rate_limit_max=100, rate_limit_remaining=90,
        )  # fmt: skip
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    text = response.content.decode()
    return text, {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_runs_records_durations_and_quota_are_exported(scraped):
    text, samples = scraped
    wf = ("workflow", "clay-to-hubspot")
    assert samples[("switchyard_workflow_runs_total", (("status", "success"), wf))] == 2
    assert samples[("switchyard_workflow_runs_total", (("status", "failure"), wf))] == 1
    assert samples[("switchyard_records_processed_total", (("outcome", "dead_lettered"), wf))] == 2
    assert samples[("switchyard_workflow_run_duration_seconds_bucket", (("le", "5.0"), wf))] == 2
    assert samples[("switchyard_workflow_run_duration_seconds_bucket", (("le", "300.0"), wf))] == 2
    assert samples[("switchyard_workflow_run_duration_seconds_bucket", (("le", "+Inf"), wf))] == 3
    assert samples[("switchyard_workflow_run_duration_seconds_sum", (wf,))] == 403.5
    portal = (("portal", "4242"), ("provider", "hubspot"))
    assert samples[("switchyard_api_requests_total", (*portal, ("status_class", "2xx")))] == 3
    assert samples[("switchyard_api_requests_total", (*portal, ("status_class", "4xx")))] == 1
    assert samples[("switchyard_api_quota_used_ratio", portal)] == 0.1  # routing's, the newest
    assert samples[("switchyard_api_daily_quota_used_ratio", portal)] == 0.2
    new = (("portal", "hubspot-new"), ("provider", "hubspot"))
    assert samples[("switchyard_api_requests_total", (*new, ("status_class", "2xx")))] == 1
    assert samples[("switchyard_api_quota_used_ratio", new)] == 0.1
    assert ("switchyard_api_daily_quota_used_ratio", new) not in samples  # no reading: no series
    assert 'portal="hubspot-main"' not in text
    assert 'portal="hubspot-routing"' not in text
    assert samples[("switchyard_alerts_open", (("severity", "critical"),))] == 0
    assert "pat-na1" not in text  # no credential, and no email or record id anywhere
    assert "@" not in text


def test_without_a_configured_token_metrics_do_not_exist(client, settings):
    settings.METRICS_TOKENS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong", f"Basic {TOKEN}", "Bearer "])
def test_a_wrong_or_missing_token_is_refused(client, settings, header, db):
    settings.METRICS_TOKENS = [TOKEN]
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert b"switchyard_" not in response.content
