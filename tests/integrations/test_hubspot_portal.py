"""A HubSpot connection learns its portal (id and time zone, from account-info) when tested:
connections to one portal share one rate-limit budget, and the daily limit resets at midnight
in the portal's zone. Date-versioned API paths are built as HubSpot documents them. All
through registry.client_for against the HubSpot sandbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from integrations import registry
from integrations.connection_checks import connection_test
from integrations.errors import RateLimited, seconds_until_midnight
from integrations.services import connection_save
from sandbox.hubspot import HubSpotSandbox
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def portal(monkeypatch, **options) -> HubSpotSandbox:
    app = HubSpotSandbox(**options)
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=app))
    return app


def test_test_connection_stores_the_portal_and_its_time_zone(monkeypatch):
    portal(monkeypatch, portal_id=777001, time_zone="America/Los_Angeles")
    connection = ConnectionFactory(name="hubspot-west", base_url="")
    assert registry.client_config_for(connection).limiter_key == (
        f"switchyard:ratelimit:connection:{connection.pk}"  # portal unknown yet
    )
    assert connection_test(connection_id=connection.pk).ok
    connection.refresh_from_db()
    assert (connection.portal_id, connection.portal_timezone) == ("777001", "America/Los_Angeles")
    config = registry.client_config_for(connection)
    assert config.timezone == "America/Los_Angeles"
    assert config.limiter_key == "switchyard:ratelimit:portal:777001"
    event = AuditEvent.objects.get(action="connection.portal_learned")
    assert event.changes["portal_id"] == ["", "777001"]


def test_a_daily_429_waits_until_midnight_in_the_portals_zone(monkeypatch):
    app = portal(monkeypatch, portal_id=777002, time_zone="Asia/Tokyo", daily_limit=3)
    connection = ConnectionFactory(name="hubspot-tokyo", base_url="", max_attempts=1)
    assert connection_test(connection_id=connection.pk).ok  # 2 calls of the 3
    connection.refresh_from_db()
    with registry.client_for(connection) as client:
        client.properties("contacts")
        with pytest.raises(RateLimited) as spent:
            client.properties("contacts")
    assert spent.value.daily
    expected = seconds_until_midnight(datetime.now(UTC), "Asia/Tokyo")
    assert abs(spent.value.retry_after - expected) < 5
    utc = seconds_until_midnight(datetime.now(UTC), "UTC")
    assert abs(spent.value.retry_after - utc) > 3600  # Tokyo's midnight is 9 h off UTC's
    assert app.limits.daily_used == 3


def test_two_connections_to_one_portal_share_one_budget(monkeypatch):
    portal_id = str(uuid.uuid4().int % 10**9)  # a fresh key in the process-wide limiter
    portal(monkeypatch, portal_id=int(portal_id))
    limits = {"rate_limit_requests": 3, "rate_limit_seconds": 60, "base_url": ""}
    syncs = ConnectionFactory(name="hubspot-syncs", **limits)
    routing = ConnectionFactory(name="hubspot-routing", **limits)
    other = ConnectionFactory(name="hubspot-elsewhere", **limits)
    for connection in (syncs, routing):
        connection.portal_id = portal_id
        connection.save()
    with registry.client_for(syncs) as client:
        for _ in range(3):
            client.properties("contacts")
    with registry.client_for(routing) as client, pytest.raises(RateLimited) as full:
        client.properties("contacts")  # the portal's budget is spent, by the other connection
    assert full.value.policy == "SHARED_LIMITER"
    with registry.client_for(other) as client:  # another portal: its own budget
        client.properties("contacts")


def test_the_admin_shows_quota_used_per_portal(monkeypatch, admin_client):
    portal(monkeypatch, portal_id=777003)
    syncs = ConnectionFactory(name="hubspot-a", base_url="", portal_id="777003")
    ConnectionFactory(name="hubspot-b", base_url="", portal_id="777003")
    with registry.client_for(syncs) as client:
        client.properties("contacts")
    page = admin_client.get(reverse("admin:integrations_connection_changelist")).content.decode()
    assert page.count("of portal 777003") == 2  # the call of one shows on both


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.batch_upsert("contacts", [{"id": "a@acme.com", "properties": {}}]),
         "/crm/objects/2026-03/contacts/batch/upsert"),
        (lambda c: list(c.owners()), "/crm/owners/2026-03"),
        (lambda c: c.properties("contacts"), "/crm/properties/2026-03/contacts"),
        (lambda c: c.account_details(), "/account-info/2026-03/details"),
    ],
)  # fmt: skip
def test_a_date_version_builds_hubspots_documented_paths(monkeypatch, call, path):
    app = portal(monkeypatch)
    connection = ConnectionFactory(name="hubspot-dated", base_url="")
    connection.options = {"api_version": "2026-03"}
    connection.save()
    with registry.client_for(connection) as client:
        call(client)
    paths = [p for _m, p, status, _t in app.request_log if status < 400]
    assert set(paths) == {path}


def test_a_version_the_client_cannot_build_is_refused():
    connection = ConnectionFactory(name="hubspot-v4", base_url="")
    connection.options = {"api_version": "v4"}
    with pytest.raises(ValidationError, match="2026-03"):
        connection_save(connection=connection)
    connection.save()  # bypassing the service, as an old row might
    with pytest.raises(ValueError, match="date version"):
        registry.client_for(connection)


def test_a_daily_pause_stops_every_private_app_of_the_portal_but_not_its_oauth_app():
    from django.utils import timezone

    from integrations.models import AuthType, ConnectionStatus
    from integrations.services import connection_pause

    def on_portal(name, **fields):
        return ConnectionFactory(name=name, portal_id="777004", **fields)

    syncs, backfill = on_portal("hubspot-syncs"), on_portal("hubspot-backfill")
    routing = on_portal("hubspot-routing", auth_type=AuthType.OAUTH)
    broken = on_portal("hubspot-broken", status=ConnectionStatus.NEEDS_RECONNECT)
    elsewhere = ConnectionFactory(name="hubspot-other", portal_id="888")
    until = timezone.now() + timedelta(hours=5)
    connection_pause(connection_id=syncs.pk, until=until, reason="daily limit")
    status = {}
    for connection in (syncs, backfill, routing, broken, elsewhere):
        connection.refresh_from_db()
        status[connection.name] = connection.status
    assert status == {
        "hubspot-syncs": ConnectionStatus.WAITING_FOR_QUOTA,
        "hubspot-backfill": ConnectionStatus.WAITING_FOR_QUOTA,  # the day's budget is the portal's
        "hubspot-routing": ConnectionStatus.ACTIVE,  # OAuth apps have no daily limit
        "hubspot-broken": ConnectionStatus.NEEDS_RECONNECT,
        "hubspot-other": ConnectionStatus.ACTIVE,
    }
    assert backfill.paused_until == until
