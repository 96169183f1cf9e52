"""Nobody unauthenticated can grow the audit log one event per request; nothing typed into a
username box is kept as typed; no stored string is longer than the cap."""

from __future__ import annotations

import io
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from audit.aggregate import audit_aggregates_flush
from audit.masking import STORED_STRING_MAX
from audit.models import AuditEvent
from audit.services import audit_event_record
from pipelines.csv_files import CsvRefused
from pipelines.screens.services import import_upload_create
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def later() -> float:
    return time.time() + settings.AUDIT_AGGREGATE_SECONDS


def test_100_bad_token_webhooks_make_one_event_and_a_count(client):
    workflow = WorkflowFactory()
    url = f"/hooks/clay/{workflow.slug}/"
    for _ in range(100):
        response = client.post(
            url, b"{}", content_type="application/json", HTTP_X_SWITCHYARD_TOKEN="wrong-token"
        )
        assert response.status_code == 401
    events = AuditEvent.objects.filter(action="webhook.rejected")
    assert events.count() == 1
    assert audit_aggregates_flush(now=later()) == 1
    assert [e.metadata.get("repeated") for e in events.order_by("id")] == [None, 99]


def test_50_anonymous_logins_without_csrf_make_one_event_and_a_count():
    client = Client(enforce_csrf_checks=True)
    for _ in range(50):
        response = client.post(reverse("admin:login"), {"username": "x", "password": "y"})
        assert response.status_code == 403
    events = AuditEvent.objects.filter(action="access.denied")
    assert events.count() == 1
    audit_aggregates_flush(now=later())
    assert events.order_by("id").last().metadata["repeated"] == 49


def test_a_password_typed_as_username_is_never_stored(client, admin_user):
    typed = "Correct-Horse-Battery-Staple-42"
    client.post(reverse("admin:login"), {"username": typed, "password": "whatever"})
    client.post(reverse("admin:login"), {"username": admin_user.username, "password": "nope"})
    failures = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
    unknown, known = failures
    assert unknown.actor_label.startswith("unknown:")
    assert unknown.metadata["username"] == unknown.actor_label
    assert known.actor_label == admin_user.username  # an account's name is kept
    for event in AuditEvent.objects.all():
        assert typed not in str(event.metadata) + event.actor_label + event.object_repr


def test_a_refused_5_mb_one_line_file_stores_a_capped_reason(admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    workflow = WorkflowFactory()
    data = b"Email," + b"x" * (5 * 1024 * 1024)
    with pytest.raises(CsvRefused):
        import_upload_create(
            workflow=workflow,
            file=io.BytesIO(data),
            filename="big.csv",
            check_destination=False,
            actor=admin_user,
        )
    event = AuditEvent.objects.get(action="import.refused")
    assert all(len(str(v)) <= STORED_STRING_MAX + 40 for v in event.metadata.values())


def test_every_stored_string_is_capped():
    event = audit_event_record(
        action="test.long", metadata={"reason": "r" * 80_000, "nested": {"list": ["n" * 9_000]}}
    )
    event.refresh_from_db()
    assert len(event.metadata["reason"]) < STORED_STRING_MAX + 40
    assert event.metadata["reason"].endswith("(80000 characters)")
    assert len(event.metadata["nested"]["list"][0]) < STORED_STRING_MAX + 40
