"""Connections: encrypted at rest, write-only in the admin, rotatable, safe base URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations.base_url import base_url_validate
from integrations.models import Connection
from integrations.services import connection_save, connections_rotate_keys
from tests.integrations.factories import ConnectionFactory

SECRET = "pat-na1-5ecret00-aaaa-bbbb-cccc-0123456789ab"


def raw_row(pk: int) -> tuple:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT token, client_secret, access_token, refresh_token FROM integrations_connection WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_a_raw_database_read_shows_no_plaintext_secret():
    connection = ConnectionFactory(token=SECRET, client_secret="client-secret-value")
    row = raw_row(connection.pk)
    assert all(
        SECRET not in (value or "") and "client-secret-value" not in (value or "") for value in row
    )
    assert row[0].startswith("fernet:")
    assert Connection.objects.get(pk=connection.pk).token == SECRET


@pytest.mark.django_db
def test_old_keys_still_decrypt_and_rotate_keys_moves_every_secret_to_the_newest(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    first = ConnectionFactory(name="first", token=SECRET)
    second = ConnectionFactory(
        name="second", token="another-secret-1234", refresh_token="refresh-9876"
    )
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert Connection.objects.get(pk=first.pk).token == SECRET  # old key still decrypts
    report = connections_rotate_keys()
    assert (report.rotated, report.already_current) == (2, 0)

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can go now
    assert Connection.objects.get(pk=first.pk).token == SECRET
    assert Connection.objects.get(pk=second.pk).refresh_token == "refresh-9876"
    assert AuditEvent.objects.filter(action="keys.rotated").count() == 1


@pytest.mark.django_db
def test_rotate_keys_is_safe_to_interrupt_and_rerun(settings, monkeypatch):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    ConnectionFactory(name="a", token=SECRET)
    ConnectionFactory(name="b", token="second-secret-5678")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]

    from integrations import crypto

    real_rotate, calls = crypto.rotate, []

    def rotate_then_die(value):
        calls.append(value)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_rotate(value)

    monkeypatch.setattr(crypto, "rotate", rotate_then_die)
    with pytest.raises(KeyboardInterrupt):
        connections_rotate_keys()
    monkeypatch.setattr(crypto, "rotate", real_rotate)

    report = connections_rotate_keys()
    assert (report.rotated, report.already_current) == (1, 1)
    assert sorted(Connection.objects.values_list("token", flat=True)) == sorted(
        [SECRET, "second-secret-5678"]
    )


@pytest.mark.django_db
def test_a_secret_encrypted_with_a_removed_key_fails_loudly(settings):
    connection = ConnectionFactory(token=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="rotate_keys"):
        Connection.objects.get(pk=connection.pk)


@pytest.mark.django_db
def test_rotate_keys_command_reports(capsys):
    ConnectionFactory(token=SECRET)
    call_command("rotate_keys")
    assert "already used the newest key" in capsys.readouterr().out


@pytest.mark.django_db
def test_saving_credentials_audits_which_changed_never_the_value(engineer):
    connection = connection_save(
        connection=Connection(name="hs", provider="hubspot"),
        secrets={"token": SECRET},
        actor=engineer,
    )
    connection_save(connection=connection, secrets={"token": ""}, actor=engineer)  # empty keeps
    assert Connection.objects.get(pk=connection.pk).token == SECRET
    events = AuditEvent.objects.filter(object_id=str(connection.pk))
    assert set(events.values_list("action", flat=True)) == {
        "connection.created",
        "connection.credentials_changed",
    }
    for event in events:
        assert SECRET not in str(event.changes) + str(event.metadata)
        assert SECRET[-4:] not in str(event.changes)


@pytest.mark.django_db
class TestAdmin:
    def test_secrets_are_write_only_and_shown_at_most_as_the_last_four(self, client, engineer):
        connection = connection_save(
            connection=Connection(name="hs", provider="hubspot"), secrets={"token": SECRET}
        )
        client.force_login(engineer)
        html = client.get(
            reverse("admin:integrations_connection_change", args=[connection.pk])
        ).content.decode()
        assert SECRET not in html
        assert SECRET[:-4] not in html
        assert f"••••{SECRET[-4:]}" in html

    def test_an_empty_secret_field_keeps_the_stored_value(self, client, engineer):
        connection = connection_save(
            connection=Connection(name="hs", provider="hubspot"), secrets={"token": SECRET}
        )
        client.force_login(engineer)
        url = reverse("admin:integrations_connection_change", args=[connection.pk])
        response = client.post(
            url,
            {
                "name": "hs",
                "provider": "hubspot",
                "environment": "production",
                "auth_type": "private_app",
                "base_url": "",
                "options": "{}",
                "connect_timeout": 5,
                "read_timeout": 30,
                "max_attempts": 5,
                "status": "active",
                "new_token": "",
                "new_client_secret": "new-client-secret-42",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        saved = Connection.objects.get(pk=connection.pk)
        assert saved.token == SECRET
        assert saved.client_secret == "new-client-secret-42"

    def test_credentials_older_than_90_days_are_flagged(self, client, engineer):
        connection = connection_save(
            connection=Connection(name="hs", provider="hubspot"), secrets={"token": SECRET}
        )
        Connection.objects.filter(pk=connection.pk).update(
            credentials_updated_at=timezone.now() - timedelta(days=120)
        )
        client.force_login(engineer)
        html = client.get(reverse("admin:integrations_connection_changelist")).content.decode()
        assert "120 days — rotate (quarterly)" in html

    def test_a_revops_admin_reads_connections_but_cannot_change_them(self, client, admin_user):
        connection = ConnectionFactory()
        client.force_login(admin_user)
        assert client.get(reverse("admin:integrations_connection_changelist")).status_code == 200
        change = client.post(
            reverse("admin:integrations_connection_change", args=[connection.pk]), {"name": "x"}
        )
        assert change.status_code == 403
        assert client.get(reverse("admin:integrations_connection_add")).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:8765",
        "https://10.0.0.5",
        "https://192.168.1.20",
        "https://[::1]:8000",
        "https://localhost:8000",
        "https://metadata.google.internal",
        "http://93.184.216.34",
        "https://user:pass@93.184.216.34",
        "ftp://93.184.216.34",
    ],
)
def test_production_refuses_base_urls_that_reach_internal_addresses(url):
    with pytest.raises(ValidationError):
        base_url_validate(url, allow_private=False)


def test_production_accepts_a_public_https_base_url():
    # The public address the refusals above use over http: over https it is accepted.
    assert base_url_validate("https://93.184.216.34", allow_private=False) is None
    with pytest.raises(ValidationError, match="must use https"):
        base_url_validate("http://93.184.216.34", allow_private=False)


def test_local_fakes_are_allowed_only_where_settings_say_so(settings):
    settings.ALLOWED_PRIVATE_BASE_URLS = ["http://127.0.0.1:8765"]
    base_url_validate("http://127.0.0.1:8765")
    base_url_validate("http://127.0.0.1:8765/api")
    for elsewhere in ("http://127.0.0.1:8766", "http://169.254.169.254", "http://10.0.0.5"):
        with pytest.raises(ValidationError):
            base_url_validate(elsewhere)
    settings.ALLOWED_PRIVATE_BASE_URLS = []
    with pytest.raises(ValidationError):
        base_url_validate("http://127.0.0.1:8765")
