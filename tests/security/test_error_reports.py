"""Error reports (console and email) go through the redaction filter; error emails are
opt-in and rate-limited; Test connection answers a malformed credential without a 500."""

from __future__ import annotations

import io
import logging

import pytest
from django.core import mail
from django.urls import reverse

from config.logging import ErrorMailHandler, RedactingFilter
from integrations.connection_checks import connection_test
from integrations.models import Connection

pytestmark = pytest.mark.django_db
SECRET = "hunter2-dsn-secret"


def _all_handlers():
    loggers = [
        logging.getLogger(),
        *(logging.getLogger(n) for n in logging.root.manager.loggerDict),
    ]
    return [(logger.name, h) for logger in loggers for h in getattr(logger, "handlers", [])]


def test_no_handler_anywhere_escapes_redaction():
    from django.utils.log import AdminEmailHandler

    for name, handler in _all_handlers():
        if "pytest" in type(handler).__module__ or isinstance(handler, logging.NullHandler):
            continue
        assert not isinstance(handler, AdminEmailHandler), name
        assert any(isinstance(f, RedactingFilter) for f in handler.filters), (name, handler)


@pytest.fixture
def console():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    old = handler.setStream(stream)
    yield stream
    handler.setStream(old)


@pytest.fixture
def failing_view(client, settings):
    settings.ROOT_URLCONF = "tests.security.urls_boom"
    settings.ADMINS = [("Ops", "ops@example.com")]
    client.raise_request_exception = False
    return lambda: client.get("/boom/")


def test_a_500_prints_and_mails_no_credential(failing_view, console, settings):
    settings.ERROR_EMAILS = True
    assert failing_view().status_code == 500
    printed = console.getvalue()
    assert "ProgrammingError" in printed  # the traceback is there...
    assert SECRET not in printed  # ...without the password
    assert len(mail.outbox) == 1
    assert "ProgrammingError" in mail.outbox[0].body
    assert SECRET not in mail.outbox[0].body + mail.outbox[0].subject


def test_error_mails_are_opt_in(failing_view, settings):
    settings.ERROR_EMAILS = False
    assert failing_view().status_code == 500
    assert mail.outbox == []


def test_error_mails_are_rate_limited(failing_view, settings):
    settings.ERROR_EMAILS = True
    settings.ERROR_EMAILS_PER_HOUR = 2
    for _ in range(5):
        assert failing_view().status_code == 500
    assert len(mail.outbox) == 2


def test_the_mail_handler_is_the_redacting_one():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "error_mail")
    assert isinstance(handler, ErrorMailHandler)


@pytest.mark.parametrize(
    ("dsn", "part"),
    [
        ("postgres://u:hunter2-dsn-secret@h:notaport/db", "port"),
        ("postgres://u:hunter2-dsn-secret@h/db?sslmode=require&foo=bar", "query string"),
        ("postgres://u:hun%zzter2-dsn-secret@h/db", "%-escape"),
        ("hunter2-dsn-secret", "neither a postgres:// URL"),
        ("postgres://u:hunter2-dsn-secret@[::1/db", "host part"),
    ],
)
def test_test_connection_names_the_bad_part_of_a_dsn_not_the_secret(client, engineer, dsn, part):
    connection = Connection.objects.create(
        name="wh", provider="warehouse", auth_type="dsn", token=dsn
    )
    verdict = connection_test(connection_id=connection.pk)
    assert (verdict.ok, verdict.code) == (False, "error")
    assert "invalid DSN" in verdict.message
    assert part in verdict.message
    assert "hunter2" not in verdict.message
    client.force_login(engineer)
    response = client.post(reverse("admin:integrations_connection_test", args=[connection.pk]))
    assert response.status_code == 302


def test_test_connection_answers_for_a_slack_webhook(client, engineer, monkeypatch):
    import httpx

    from integrations import registry

    seen = []

    def slack(request):
        seen.append(request)
        return httpx.Response(400, text="no_text")

    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.MockTransport(slack))
    connection = Connection.objects.create(
        name="hook",
        provider="slack",
        auth_type="webhook_url",
        token="http://hooks.slack.test/services/T000/B000/XXXXXXXXXXXX",
    )
    verdict = connection_test(connection_id=connection.pk)
    assert (verdict.ok, verdict.code) == (True, "ok")
    assert seen[0].content == b"{}"  # nothing was posted to the channel


@pytest.mark.parametrize("provider", ["builtwith", "clearbit", "apollo", "hubspot", "http"])
def test_every_outbound_provider_kind_answers_test_connection(monkeypatch, provider):
    import httpx

    from integrations import registry

    monkeypatch.setattr(
        registry, "TRANSPORT_OVERRIDE", httpx.MockTransport(lambda r: httpx.Response(401))
    )
    connection = Connection.objects.create(
        name=f"c-{provider}",
        provider=provider,
        auth_type="bearer" if provider in {"http", "hubspot"} else "api_key",
        base_url="http://provider.test",
        token="a-token-value-123456",
        max_attempts=1,
    )
    verdict = connection_test(connection_id=connection.pk)
    assert verdict.code == "invalid_token"
