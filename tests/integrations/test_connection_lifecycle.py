"""Test connection, OAuth connect and refresh, the request log — against the HubSpot sandbox.

HTTP is stubbed at one boundary: the sandbox, in-process (WSGI) or served on a loopback port.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations import registry
from integrations.connection_checks import connection_test
from integrations.errors import AuthFailed
from integrations.models import Connection, ConnectionStatus, RequestLog
from integrations.oauth import oauth_access_token
from integrations.services import connection_save
from sandbox.hubspot import HubSpotSandbox, serve

TOKEN = "pat-na1-11111111-2222-3333-4444-lifecycle000"


@pytest.fixture
def sandbox(monkeypatch):
    app = HubSpotSandbox(tokens={TOKEN})
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.WSGITransport(app=app))
    return app


def hubspot(token: str = TOKEN, **fields) -> Connection:
    connection = Connection(
        name=fields.pop("name", "hubspot-main"),
        provider="hubspot",
        base_url="http://sandbox.test",
        max_attempts=2,
        **fields,
    )
    return connection_save(connection=connection, secrets={"token": token})


@pytest.mark.django_db
class TestConnectionTest:
    def test_a_valid_token_is_ok_and_the_test_is_audited(self, sandbox, engineer):
        connection = hubspot()
        verdict = connection_test(connection_id=connection.pk, actor=engineer)
        assert (verdict.ok, verdict.message) == (True, "OK")
        connection.refresh_from_db()
        assert connection.last_test_verdict == "OK"
        event = AuditEvent.objects.get(action="connection.tested")
        assert (event.actor, event.metadata) == (engineer, {"verdict": "ok"})

    def test_a_rejected_token_says_invalid_token(self, sandbox):
        verdict = connection_test(
            connection_id=hubspot(token="pat-na1-wrong-token-000000000000").pk
        )
        assert (verdict.ok, verdict.code) == (False, "invalid_token")
        assert "401" in verdict.message

    def test_a_missing_scope_is_named(self, sandbox):
        sandbox.configure(missing_scopes={"crm.objects.contacts.read"})
        verdict = connection_test(connection_id=hubspot().pk)
        assert verdict.code == "missing_scope"
        assert "crm.objects.contacts.read" in verdict.message

    def test_an_unreachable_host_says_so(self, monkeypatch):
        monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", None)
        connection = hubspot()
        Connection.objects.filter(pk=connection.pk).update(
            base_url="http://127.0.0.1:9"
        )  # discard port
        verdict = connection_test(connection_id=connection.pk)
        assert verdict.code == "unreachable"

    def test_a_silent_host_is_a_timeout(self, monkeypatch):
        monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", None)
        app = HubSpotSandbox(tokens={TOKEN}, fault_rates={"timeout": 1.0}, timeout_seconds=2)
        server, _ = serve(app)
        try:
            connection = hubspot(read_timeout=0.3, connect_timeout=0.3)
            Connection.objects.filter(pk=connection.pk).update(
                base_url=f"http://127.0.0.1:{server.server_port}"
            )
            verdict = connection_test(connection_id=connection.pk)
        finally:
            server.shutdown()
        assert verdict.code == "timeout"

    def test_the_command_prints_the_verdict_and_fails_on_a_bad_one(self, sandbox, capsys):
        hubspot()
        call_command("test_connection", "hubspot-main")
        assert capsys.readouterr().out.strip() == "hubspot-main: OK"
        hubspot(name="broken", token="pat-na1-not-a-valid-token-00000000")
        with pytest.raises(CommandError, match="invalid token"):
            call_command("test_connection", "broken")

    def test_the_admin_button_needs_the_test_permission(
        self, sandbox, client, admin_user, engineer
    ):
        connection = hubspot()
        url = reverse("admin:integrations_connection_test", args=[connection.pk])
        client.force_login(admin_user)
        assert client.post(url).status_code == 403
        client.force_login(engineer)
        assert client.post(url).status_code == 302
        assert AuditEvent.objects.filter(action="connection.tested", actor=engineer).exists()


@pytest.mark.django_db
def test_every_call_is_in_the_request_log_without_secrets_or_ids(sandbox):
    connection = hubspot()
    client = registry.client_for(connection)
    client.batch_upsert(
        "contacts",
        [
            {
                "idProperty": "email",
                "id": "ada@example.com",
                "properties": {"email": "ada@example.com"},
            }
        ],
    )
    client.ping()
    rows = list(RequestLog.objects.filter(connection=connection).order_by("id"))
    assert [r.path_template for r in rows][0] == "/crm/v3/objects/{type}/batch/upsert"
    assert all(r.status == 200 for r in rows)
    assert rows[0].rate_limit_remaining is not None
    dump = str(list(RequestLog.objects.values()))
    assert "ada@example.com" not in dump
    assert TOKEN not in dump


@pytest.mark.django_db
def test_a_connection_paused_for_its_daily_quota_makes_no_call(sandbox):
    connection = hubspot()
    Connection.objects.filter(pk=connection.pk).update(
        status=ConnectionStatus.WAITING_FOR_QUOTA, paused_until=timezone.now() + timedelta(hours=3)
    )
    verdict = connection_test(connection_id=connection.pk)
    assert verdict.code == "rate_limited"
    assert RequestLog.objects.count() == 0


# --- OAuth ---------------------------------------------------------------------------------


def oauth_connection(sandbox: HubSpotSandbox, **fields) -> Connection:
    connection = Connection(
        name="hubspot-oauth",
        provider="hubspot",
        auth_type="oauth",
        base_url="http://sandbox.test",
        options={"client_id": "sandbox-client-id"},
        **fields,
    )
    return connection_save(
        connection=connection, secrets={"client_secret": "sandbox-client-secret"}
    )


@pytest.mark.django_db
class TestOAuth:
    def test_connect_sends_the_admin_to_hubspot_with_scopes_and_a_state(
        self, sandbox, client, engineer
    ):
        connection = oauth_connection(sandbox)
        client.force_login(engineer)
        response = client.get(
            reverse("admin:integrations_connection_oauth_connect", args=[connection.pk])
        )
        assert response.status_code == 302
        url = urlsplit(response["Location"])
        query = parse_qs(url.query)
        assert url.netloc == "app.hubspot.com"
        assert "crm.objects.contacts.write" in query["scope"][0].split()
        assert query["redirect_uri"][0].endswith("/integrations/oauth/hubspot/callback")
        assert len(query["state"][0]) >= 32

    def test_the_callback_stores_encrypted_tokens_with_their_expiry(
        self, sandbox, client, engineer
    ):
        connection = oauth_connection(sandbox)
        client.force_login(engineer)
        start = client.get(
            reverse("admin:integrations_connection_oauth_connect", args=[connection.pk])
        )
        query = parse_qs(urlsplit(start["Location"]).query)
        code = sandbox.issue_oauth_code(query["redirect_uri"][0], query["scope"][0].split())
        response = client.get(
            reverse("integrations:oauth_callback"), {"code": code, "state": query["state"][0]}
        )
        assert response.status_code == 302
        connection.refresh_from_db()
        assert connection.access_token
        assert connection.refresh_token
        assert connection.access_token_expires_at > timezone.now() + timedelta(minutes=20)
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT access_token FROM integrations_connection WHERE id = %s", [connection.pk]
            )
            assert connection.access_token not in cursor.fetchone()[0]

    def test_a_callback_with_a_foreign_state_is_refused_and_stores_nothing(
        self, sandbox, client, engineer
    ):
        connection = oauth_connection(sandbox)
        client.force_login(engineer)
        client.get(reverse("admin:integrations_connection_oauth_connect", args=[connection.pk]))
        response = client.get(
            reverse("integrations:oauth_callback"), {"code": "anything", "state": "forged"}
        )
        assert response.status_code == 400
        connection.refresh_from_db()
        assert connection.access_token == ""
        assert AuditEvent.objects.filter(action="connection.oauth_state_mismatch").exists()

    def test_a_refused_refresh_marks_the_connection_needs_reconnect_and_alerts(
        self, sandbox, settings, mailoutbox
    ):
        settings.ADMINS = [("RevOps on call", "oncall@example.com")]
        connection = oauth_connection(
            sandbox, access_token_expires_at=timezone.now() + timedelta(minutes=2)
        )
        connection_save(
            connection=connection,
            secrets={
                "access_token": "stale-access-token-0001",
                "refresh_token": "sandbox-refresh-unknown",
            },
        )
        sandbox.issue_oauth_code(
            "http://x/cb", ["oauth"]
        )  # the sandbox knows only tokens it issued
        with pytest.raises(AuthFailed):
            oauth_access_token(connection_id=connection.pk)
        connection.refresh_from_db()
        # A refused refresh token marks the connection and raises an alert instead of failing silently.
        assert connection.status == ConnectionStatus.NEEDS_RECONNECT
        assert AuditEvent.objects.filter(action="connection.needs_reconnect").exists()
        assert [m.subject for m in mailoutbox] == ["[Switchyard] hubspot-oauth needs reconnecting"]
        with pytest.raises(AuthFailed, match="needs reconnecting"):
            oauth_access_token(connection_id=connection.pk)

    def test_a_fresh_token_is_used_without_calling_hubspot(self, sandbox):
        connection = oauth_connection(
            sandbox, access_token_expires_at=timezone.now() + timedelta(minutes=25)
        )
        connection_save(connection=connection, secrets={"access_token": "fresh-access-token-0001"})
        assert oauth_access_token(connection_id=connection.pk) == "fresh-access-token-0001"
        assert sandbox.request_log == []


def exchange_real_tokens(sandbox: HubSpotSandbox, connection: Connection) -> None:
    from integrations.oauth import oauth_code_exchange

    code = sandbox.issue_oauth_code("http://testserver/cb", ["oauth", "crm.objects.contacts.read"])
    oauth_code_exchange(
        connection_id=connection.pk, code=code, redirect_uri="http://testserver/cb", actor=None
    )


@pytest.mark.django_db
def test_a_token_near_expiry_is_refreshed_once(sandbox):
    connection = oauth_connection(sandbox)
    exchange_real_tokens(sandbox, connection)
    first = Connection.objects.get(pk=connection.pk).access_token
    Connection.objects.filter(pk=connection.pk).update(
        access_token_expires_at=timezone.now() + timedelta(minutes=1)
    )
    refreshed = oauth_access_token(connection_id=connection.pk)
    assert refreshed != first
    assert oauth_access_token(connection_id=connection.pk) == refreshed
    token_calls = [entry for entry in sandbox.request_log if "/oauth/" in entry[1]]
    assert len(token_calls) == 2  # the code exchange and one refresh


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_refresh_twice(sandbox):
    if db.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers differently")
    connection = oauth_connection(sandbox)
    exchange_real_tokens(sandbox, connection)
    Connection.objects.filter(pk=connection.pk).update(
        access_token_expires_at=timezone.now() + timedelta(minutes=1)
    )
    sandbox.configure(latency_ms=200)  # widen the race window
    results, barrier = [], threading.Barrier(4)

    def worker():
        barrier.wait()
        try:
            results.append(oauth_access_token(connection_id=connection.pk))
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    refreshes = [entry for entry in sandbox.request_log if "/oauth/" in entry[1]]
    assert len(refreshes) == 2  # the exchange, then exactly one refresh


@pytest.mark.django_db
def test_the_documented_config_applies_and_tests_ok_against_a_served_sandbox(
    tmp_path, monkeypatch, capsys
):
    from tests.integrations.test_config_as_code import EXAMPLE

    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", None)
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("CLAY_WEBHOOK_SECRET", "clay-secret-for-the-example")
    server, _ = serve(HubSpotSandbox(tokens={TOKEN}))
    try:
        config = tmp_path / "switchyard.yaml"
        config.write_text(
            EXAMPLE.replace("http://127.0.0.1:8765", f"http://127.0.0.1:{server.server_port}")
        )
        call_command("config", "apply", str(config))
        call_command("test_connection", "hubspot-main")
    finally:
        server.shutdown()
    assert capsys.readouterr().out.strip().endswith("hubspot-main: OK")


@pytest.mark.django_db
def test_quota_used_comes_from_the_last_rate_limit_headers(sandbox):
    from integrations.selectors import connection_quota_used

    sandbox.configure(rate_limit=10)
    connection = hubspot()
    assert connection_quota_used(connection=connection) is None
    client_ = registry.client_for(connection)
    for _ in range(4):
        client_.ping()
    assert connection_quota_used(connection=connection) == pytest.approx(0.4)
