"""Erasure leaves nothing that matches the email; the access export returns everything; both audited by hash."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from audit import privacy
from audit.masking import hash_email
from audit.models import AuditEvent, PrivacyRequest, SuppressedEmail
from audit.privacy import (
    email_is_suppressed,
    emails_suppressed,
    privacy_access_export,
    privacy_access_export_csv,
    privacy_erasure_perform,
)

pytestmark = pytest.mark.django_db

EMAIL = "Dana.Scully+fbi@Example.org"
VARIANTS = (
    "dana.scully+fbi@example.org",
    "Dana.Scully+fbi@Example.org",
    "DANA.SCULLY+FBI@EXAMPLE.ORG",
)


class TableStore:
    """Stands in for the staged records / warehouse: rows in a real table, matched on email."""

    name = "test.contacts"

    def find(self, email):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, email, company, notes FROM test_contacts WHERE lower(email) = %s ORDER BY id",
                [email],
            )
            return [
                dict(zip(["id", "email", "company", "notes"], row, strict=True))
                for row in cursor.fetchall()
            ]

    def erase(self, email):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM test_contacts WHERE lower(email) = %s", [email])
            return cursor.rowcount


class CacheStore:
    """Stands in for cached enrichment: anonymizes rather than deletes."""

    name = "test.enrichment_cache"

    def find(self, email):
        value = cache.get(f"enrich:{email}")
        return [value] if value else []

    def erase(self, email):
        return 1 if cache.delete(f"enrich:{email}") else 0


class BrokenStore:
    name = "test.broken"

    def find(self, email):
        raise ConnectionError(f"warehouse unreachable while looking up {email}")

    def erase(self, email):
        raise ConnectionError(f"warehouse unreachable while erasing {email}")


@pytest.fixture
def stores(monkeypatch):
    """Only the test stores are registered; the registry is restored afterwards."""
    monkeypatch.setattr(privacy, "_STORES", {})
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE test_contacts (id integer PRIMARY KEY, email varchar(254), company varchar(100), notes text)"
        )
        cursor.executemany(
            "INSERT INTO test_contacts VALUES (%s, %s, %s, %s)",
            [
                (1, "dana.scully+fbi@example.org", "FBI", "=cmd|' /C calc'!A0"),
                (2, "fox.mulder@example.org", "FBI", "keeps this row"),
                (3, "Dana.Scully+fbi@Example.org", "FBI", "second source row"),
            ],
        )
    cache.set(
        "enrich:dana.scully+fbi@example.org",
        {"title": "Special Agent", "email": "dana.scully+fbi@example.org"},
    )
    privacy.register_store(TableStore())
    privacy.register_store(CacheStore())
    yield
    cache.clear()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_contacts")


def database_hits(needles) -> list[str]:
    """Every table, every row, as text: where does any of the needles still appear?"""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                text = " ".join(str(v) for v in row).lower()
                hits += [f"{table}: {needle}" for needle in needles if needle.lower() in text]
    return hits


def test_a_store_must_follow_the_contract():
    with pytest.raises(TypeError):
        privacy.register_store(object())


def test_erasure_leaves_nothing_that_matches_the_email_in_any_store_or_table(stores, admin_user):
    receipt = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert {s.store: s.removed for s in receipt.stores} == {
        "test.contacts": 2,
        "test.enrichment_cache": 1,
    }
    assert receipt.status == "completed"
    assert receipt.total_removed == 3
    assert privacy_access_export(email=EMAIL, actor=admin_user)["stores"] == {
        "test.contacts": [],
        "test.enrichment_cache": [],
    }
    assert database_hits([*VARIANTS, "dana.scully"]) == []
    assert cache.get("enrich:dana.scully+fbi@example.org") is None


def test_erasure_keeps_other_people(stores, admin_user):
    privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert [r["email"] for r in TableStore().find("fox.mulder@example.org")] == [
        "fox.mulder@example.org"
    ]


def test_erasure_suppresses_the_email_for_later_imports_and_webhooks(stores, admin_user):
    assert not email_is_suppressed(EMAIL)
    privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert all(email_is_suppressed(v) for v in VARIANTS)
    assert not email_is_suppressed("fox.mulder@example.org")
    assert emails_suppressed(["fox.mulder@example.org", " DANA.SCULLY+fbi@example.org"]) == {
        " DANA.SCULLY+fbi@example.org"
    }
    assert SuppressedEmail.objects.get().email_hash == hash_email(EMAIL)


def test_the_audit_event_and_the_receipt_hold_only_the_emails_hash(stores, admin_user):
    receipt = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    event = AuditEvent.objects.get(action="privacy.erasure")
    assert event.metadata["email_hash"] == hash_email(EMAIL) == receipt.email_hash
    assert event.metadata["stores"] == {"test.contacts": 2, "test.enrichment_cache": 1}
    request = PrivacyRequest.objects.get(kind="erasure")
    assert request.receipt["stores"][0] == {"store": "test.contacts", "removed": 2, "error": ""}
    assert "scully" not in json.dumps(request.receipt).lower()
    assert "scully" not in str(event.__dict__).lower()


def test_erasure_runs_every_store_even_when_one_fails_and_can_be_run_again(stores, admin_user):
    privacy.register_store(BrokenStore())
    receipt = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert receipt.status == "partial"
    broken = next(s for s in receipt.stores if s.store == "test.broken")
    assert broken.error.startswith("ConnectionError")
    assert "scully" not in broken.error.lower()
    assert next(s for s in receipt.stores if s.store == "test.contacts").removed == 2
    privacy.unregister_store("test.broken")
    again = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert again.status == "completed"
    assert again.total_removed == 0


def test_erasure_through_the_admin_page_shows_the_receipt_and_leaves_no_trace(
    client, stores, admin_user
):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:audit_privacyrequest_erase"),
        {"email": EMAIL, "email_again": EMAIL.lower(), "confirm": "on"},
    )
    assert response.status_code == 200
    assert b"test.contacts" in response.content
    assert hash_email(EMAIL).encode() in response.content
    assert database_hits([*VARIANTS, "dana.scully"]) == []


def test_the_erasure_form_requires_the_address_twice(client, stores, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:audit_privacyrequest_erase"),
        {"email": EMAIL, "email_again": "someone@else.org", "confirm": "on"},
    )
    assert b"The two email addresses differ" in response.content
    assert not PrivacyRequest.objects.exists()


def test_the_access_export_returns_every_record_from_every_store(stores, admin_user):
    export = privacy_access_export(email=EMAIL, actor=admin_user)
    assert export["email"] == "dana.scully+fbi@example.org"
    assert [r["id"] for r in export["stores"]["test.contacts"]] == [1, 3]
    assert export["stores"]["test.enrichment_cache"] == [
        {"title": "Special Agent", "email": "dana.scully+fbi@example.org"}
    ]
    assert export["suppressed"] is False
    event = AuditEvent.objects.get(action="privacy.access_exported")
    assert event.metadata["stores"] == {"test.contacts": 2, "test.enrichment_cache": 1}
    assert "scully" not in str(event.metadata).lower()


def test_the_access_export_as_csv_has_every_field_and_defuses_formulas(stores, admin_user):
    export = privacy_access_export(email=EMAIL, actor=admin_user)
    rows = list(csv.reader(io.StringIO(privacy_access_export_csv(export))))
    assert rows[0] == ["store", "record", "field", "value"]
    assert ["test.contacts", "1", "notes", "'=cmd|' /C calc'!A0"] in rows
    assert ["test.enrichment_cache", "1", "title", "Special Agent"] in rows
    assert len(rows) == 1 + 2 * 4 + 2


def test_the_access_export_downloads_as_json_and_csv_for_allowed_users(client, stores, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:audit_privacyrequest_access")
    response = client.post(url, {"email": EMAIL, "format": "json"})
    assert response["Content-Disposition"].startswith("attachment;")
    assert len(json.loads(response.content)["stores"]["test.contacts"]) == 2
    response = client.post(url, {"email": EMAIL, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert b"Special Agent" in response.content


def test_the_access_export_is_refused_without_the_personal_data_permission(client, stores, viewer):
    client.force_login(viewer)
    assert (
        client.post(
            reverse("admin:audit_privacyrequest_access"), {"email": EMAIL, "format": "json"}
        ).status_code
        == 403
    )
    assert not AuditEvent.objects.filter(action="privacy.access_exported").exists()
