"""The operations home is the admin index: workflows, alerts, quota and quality at a glance."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from integrations import registry
from integrations.models import AuthType, Provider, RequestLog
from monitoring.models import Alert, AlertRule
from monitoring.services import alerts_evaluate
from pipelines.models import RunStatus
from quality.services import run_quality_measure
from sandbox.hubspot import HubSpotSandbox
from tests.monitoring.conftest import add_records, finished_run
from tests.pipelines.factories import HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def healthy_and_broken(no_default_rules):
    healthy = WorkflowFactory(slug="clay-to-hubspot")
    for day in range(3):
        run = finished_run(healthy, records_in=40, minutes_ago=day * 30)
        add_records(run, [{"email": f"p{i}@acme.com"} for i in range(40)])
        run_quality_measure(run_id=run.pk)
    broken = WorkflowFactory(slug="apollo-to-hubspot")
    finished_run(broken, status=RunStatus.FAILURE, minutes_ago=90, message="HubSpot 401")
    AlertRule.objects.create(name="failing", severity="critical", kind="workflow_failing")
    alerts_evaluate()
    return healthy, broken


def test_admin_index_is_the_operations_home(client, admin_user, healthy_and_broken):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="operations-home"' in page
    assert 'data-workflow="clay-to-hubspot" data-health="ok"' in page
    assert 'data-workflow="apollo-to-hubspot" data-health="bad"' in page
    assert "apollo-to-hubspot has failed every run since" in page
    assert "1 critical" in page
    assert "Acknowledge" in page
    assert "<polyline" in page  # the quality trend is drawn on the server


def test_records_today_and_success_rate(client, admin_user, healthy_and_broken):
    client.force_login(admin_user)
    response = client.get(reverse("admin:index"))
    row = next(r for r in response.context["workflows"] if r.workflow.slug == "clay-to-hubspot")
    assert (row.records_today, row.success_24h, row.runs_24h) == (120, 100.0, 3)


def test_viewer_sees_the_home_but_cannot_acknowledge(client, viewer, healthy_and_broken):
    client.force_login(viewer)
    page = client.get(reverse("admin:index")).content.decode()
    assert "apollo-to-hubspot has failed" in page
    assert "Acknowledge" not in page
    alert = Alert.objects.get()
    response = client.post(reverse("admin:alert-acknowledge", args=[alert.pk]))
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_admin_acknowledges_from_the_home(client, admin_user, healthy_and_broken):
    client.force_login(admin_user)
    alert = Alert.objects.get()
    response = client.post(reverse("admin:alert-acknowledge", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == admin_user


def test_celery_beat_tables_are_out_of_the_way_but_reachable(client, admin_user, engineer):
    client.force_login(admin_user)
    models_page = client.get(reverse("admin:models")).content.decode()
    assert "Periodic tasks" in models_page
    assert "Crontabs" not in models_page
    assert "Intervals" not in models_page
    assert (
        client.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).status_code
        == 200
    )
    client.force_login(engineer)
    assert "Crontabs" in client.get(reverse("admin:models")).content.decode()


def test_quota_per_portal_from_the_request_log(client, engineer, monkeypatch, no_default_rules):
    """Two connections to one HubSpot portal spend one budget: one row, the newest reading of
    either; a connection whose portal is not learned yet, and Apollo, keep their own rows."""
    app = HubSpotSandbox(portal_id=777010, daily_limit=1000)
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=app))
    syncs = HubSpotConnectionFactory(name="hubspot-syncs", base_url="", portal_id="777010")
    routing = HubSpotConnectionFactory(name="hubspot-routing", base_url="", portal_id="777010")
    unknown = HubSpotConnectionFactory(name="hubspot-new")
    apollo = HubSpotConnectionFactory(name="apollo-main", provider=Provider.APOLLO)
    for connection, calls in ((syncs, 2), (routing, 1)):
        with registry.client_for(connection) as hubspot:
            for _ in range(calls):
                hubspot.properties("contacts")
    RequestLog.objects.create(
        connection=unknown, method="GET", path_template="/crm/v3/objects/{type}", status=200,
        rate_limit_max=190, rate_limit_remaining=95,
    )  # fmt: skip
    RequestLog.objects.create(
        connection=apollo, method="POST", path_template="/api/v1/people/match", status=200,
        rate_limit_max=200, rate_limit_remaining=150, daily_max=2000, daily_remaining=1500,
    )  # fmt: skip
    newest = RequestLog.objects.filter(connection=routing).latest("id")
    assert newest.daily_max == 1000  # the transport records HubSpot's daily headers
    burst = round(
        100 * (newest.rate_limit_max - newest.rate_limit_remaining) / newest.rate_limit_max, 1
    )

    client.force_login(engineer)
    response = client.get(reverse("admin:index"))
    rows = [
        (q.connection, q.portal, q.used_percent, q.daily_used_percent)
        for q in response.context["quotas"]
    ]
    assert rows == [
        ("apollo-main", "apollo-main", 25.0, 25.0),
        ("hubspot-new", "hubspot-new", 50.0, None),
        ("portal 777010 (hubspot-routing, hubspot-syncs)", "777010", burst, 0.3),  # 3 of 1,000
    ]
    page = response.content.decode()
    assert page.count('class="ops-quota-row"') == 3
    assert "no calls today" in page  # hubspot-new: a private app, no daily reading yet


def test_oauth_only_portal_says_its_daily_figure_is_unknown(client, engineer, no_default_rules):
    routing = HubSpotConnectionFactory(
        name="hubspot-oauth", portal_id="555", auth_type=AuthType.OAUTH
    )
    RequestLog.objects.create(
        connection=routing, method="GET", path_template="/crm/v3/objects/{type}", status=200,
        rate_limit_max=100, rate_limit_remaining=90,
    )  # fmt: skip
    client.force_login(engineer)
    response = client.get(reverse("admin:index"))
    [quota] = response.context["quotas"]
    assert (quota.connection, quota.used_percent, quota.daily_used_percent) == (
        "portal 555 (hubspot-oauth)",
        10.0,
        None,
    )
    assert "unknown (the provider sends no daily figure to OAuth apps)" in (
        response.content.decode()
    )


def test_outsider_is_sent_to_login(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
