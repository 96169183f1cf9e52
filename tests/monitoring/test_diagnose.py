""" "Why isn't this syncing?": each check names the real cause with its evidence and fix —
a mapping to a property HubSpot does not have, an expired token, a queue nobody works."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from integrations import registry
from integrations.models import AuthType
from monitoring import diagnose
from pipelines.models import BatchState, RunBatch
from sandbox.hubspot import HubSpotSandbox
from tests.monitoring.conftest import finished_run
from tests.pipelines.factories import CLAY_RULES, HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

BROKEN_RULES = [*CLAY_RULES, {"from": "Score", "to": "lead_score_2024", "transforms": []}]


@pytest.fixture
def hubspot(monkeypatch):
    sandbox = HubSpotSandbox(tokens={"pat-good"})
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=sandbox))
    monkeypatch.setattr(diagnose, "WORKERS_PING", lambda: ["celery@worker-1"])
    return sandbox


def checks_of(slug: str) -> dict[str, dict]:
    out = StringIO()
    call_command("diagnose", slug, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["workflow"] == slug
    assert all(set(c) == {"name", "ok", "evidence", "fix"} for c in data["checks"])
    return {c["name"].split(" ")[1] + " " + c["name"].split(" ")[2]: c for c in data["checks"]}


def test_a_healthy_workflow_passes_every_check(hubspot, no_default_rules):
    workflow = WorkflowFactory(
        slug="clay-to-hubspot", destination_connection=HubSpotConnectionFactory(token="pat-good")
    )
    finished_run(workflow, minutes_ago=10)
    checks = checks_of("clay-to-hubspot")
    assert [c["ok"] for c in checks.values()] == [True] * 7, checks


def test_diagnose_names_a_broken_mapping(hubspot, no_default_rules):
    workflow = WorkflowFactory(
        slug="clay-to-hubspot",
        destination_connection=HubSpotConnectionFactory(token="pat-good"),
        rules=BROKEN_RULES,
    )
    finished_run(workflow, minutes_ago=10)
    checks = checks_of("clay-to-hubspot")
    mapping = checks["the mapping"]
    assert mapping["ok"] is False
    assert "no contacts property named 'lead_score_2024'" in mapping["evidence"]
    assert "Edit the mapping" in mapping["fix"]
    assert checks["the credentials"]["ok"] is True  # the cause is named, not everything


def test_diagnose_names_an_expired_oauth_token(hubspot, no_default_rules):
    expired = HubSpotConnectionFactory(
        auth_type=AuthType.OAUTH,
        access_token="sandbox-access-token-long-gone",
        refresh_token="refresh-token-the-portal-revoked",
        client_secret="sandbox-client-secret",
        options={"client_id": "sandbox-client-id"},
        access_token_expires_at=timezone.now() - timedelta(hours=3),
    )
    workflow = WorkflowFactory(slug="clay-to-hubspot", destination_connection=expired)
    finished_run(workflow, minutes_ago=10)
    credentials = checks_of("clay-to-hubspot")["the credentials"]
    assert credentials["ok"] is False
    assert "the OAuth access token expired 3 h ago" in credentials["evidence"]
    assert "The token expired: reconnect" in credentials["fix"]
    assert "refresh-token-the-portal-revoked" not in json.dumps(credentials)


def test_diagnose_names_a_rejected_private_app_token(hubspot, no_default_rules):
    workflow = WorkflowFactory(
        slug="clay-to-hubspot", destination_connection=HubSpotConnectionFactory(token="pat-old")
    )
    credentials = checks_of("clay-to-hubspot")["the credentials"]
    assert credentials["ok"] is False
    assert "invalid token (401)" in credentials["evidence"]
    assert "expired or revoked" in credentials["fix"]
    assert "pat-old" not in json.dumps(credentials)
    assert workflow.pk


def test_a_queue_nobody_works_is_named(hubspot, no_default_rules, monkeypatch):
    monkeypatch.setattr(diagnose, "WORKERS_PING", lambda: [])
    workflow = WorkflowFactory(
        slug="clay-to-hubspot", destination_connection=HubSpotConnectionFactory(token="pat-good")
    )
    run = finished_run(workflow, status="running", minutes_ago=10)
    batch = RunBatch.objects.create(run=run, sequence=1, state=BatchState.PENDING)
    RunBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    workers = checks_of("clay-to-hubspot")["workers alive"]
    assert workers["ok"] is False
    assert "0 worker(s) answered" in workers["evidence"]
    assert "1 batch(es) queued, oldest 20 min ago" in workers["evidence"]
    assert "Start a Celery worker" in workers["fix"]


def test_the_page_shows_checks_and_figures(client, admin_user, hubspot, no_default_rules):
    workflow = WorkflowFactory(
        slug="clay-to-hubspot",
        destination_connection=HubSpotConnectionFactory(token="pat-good"),
        rules=BROKEN_RULES,
    )
    for ms in (1000, 2000, 3000):
        finished_run(workflow, duration_ms=ms, records_in=100)
    client.force_login(admin_user)
    page = client.get(reverse("ops:diagnose", args=["clay-to-hubspot"])).content.decode()
    assert 'data-ok="false"' in page
    assert "lead_score_2024" in page
    assert "average 2.0 s, p95 3.0 s" in page
    assert "300 this week" in page


def test_unknown_workflow(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("ops:diagnose", args=["nope"])).status_code == 404
