"""A known secret goes through a whole exchange and must show up nowhere a person could read it:
log records, exception messages, admin pages, audit diffs."""

from __future__ import annotations

import logging

import httpx
import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from integrations import registry
from integrations.connection_checks import connection_test
from integrations.errors import ProviderError
from integrations.models import Connection, RequestLog
from sandbox.hubspot import HubSpotSandbox

CANARY = "pat-na1-canary00-feed-beef-cafe-0123456789ab"
BUILTWITH_CANARY = "bw-canary-key-77f1d2"


@pytest.mark.django_db
def test_a_known_secret_appears_in_no_log_exception_admin_page_or_audit_diff(
    tmp_path, monkeypatch, caplog, client, engineer
):
    caplog.set_level(logging.DEBUG)
    sandbox = HubSpotSandbox(tokens={CANARY}, fault_rates={"500": 0.2, "503": 0.1}, seed=7)
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.WSGITransport(app=sandbox))
    monkeypatch.setenv("HUBSPOT_TOKEN", CANARY)
    monkeypatch.setenv("BUILTWITH_KEY", BUILTWITH_CANARY)
    config = tmp_path / "switchyard.yaml"
    config.write_text(
        "connections:\n"
        "  - {name: hubspot-main, provider: hubspot, base_url: 'http://sandbox.test', max_attempts: 6,\n"
        "     auth: {type: private_app, token: ${HUBSPOT_TOKEN}}}\n"
        "  - {name: builtwith, provider: builtwith, base_url: 'http://builtwith.test', max_attempts: 2,\n"
        "     auth: {type: api_key, token: ${BUILTWITH_KEY}}}\n"
    )
    call_command("config", "apply", str(config))
    hubspot = Connection.objects.get(name="hubspot-main")

    # A pipeline-sized exchange with retries: 3 batches of 100 upserts through 429s and 500s.
    client_ = registry.client_for(hubspot)
    for batch in range(3):
        inputs = [
            {
                "idProperty": "email",
                "id": f"person{batch}-{i}@example.com",
                "objectWriteTraceId": str(i),
                "properties": {"email": f"person{batch}-{i}@example.com"},
            }
            for i in range(100)
        ]
        client_.batch_upsert("contacts", inputs)
    connection_test(connection_id=hubspot.pk, actor=engineer)

    # Failures: a rejected token, and BuiltWith, whose key travels in the URL.
    messages = []
    sandbox.configure(tokens={"some-other-token"}, fault_rates={})
    try:
        registry.client_for(hubspot).ping()
    except ProviderError as exc:
        messages.append(str(exc))
        messages.append(repr(exc))
    monkeypatch.setattr(
        registry,
        "TRANSPORT_OVERRIDE",
        httpx.MockTransport(lambda r: httpx.Response(500, text=str(r.url))),
    )
    try:
        registry.client_for(Connection.objects.get(name="builtwith")).ping()
    except ProviderError as exc:
        messages.append(str(exc))
        messages.append(repr(exc))
    assert len(messages) == 4

    client.force_login(engineer)
    pages = [
        reverse("admin:integrations_connection_changelist"),
        reverse("admin:integrations_connection_change", args=[hubspot.pk]),
        reverse("admin:integrations_requestlog_changelist"),
        reverse("admin:audit_auditevent_changelist"),
    ]
    html = "".join(client.get(page).content.decode() for page in pages)

    haystacks = {
        "log records": "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
        "exception messages": "\n".join(messages),
        "admin pages": html,
        "audit diffs": "\n".join(f"{e.changes} {e.metadata}" for e in AuditEvent.objects.all()),
        "request log": str(list(RequestLog.objects.values())),
    }
    for secret in (CANARY, BUILTWITH_CANARY):
        for where, text in haystacks.items():
            assert secret not in text, f"the secret leaked into {where}"
    assert RequestLog.objects.filter(connection=hubspot).count() >= 3
