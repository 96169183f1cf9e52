"""Nobody changes or deletes an audit event: not the ORM, not the admin, not raw SQL (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from audit.models import AppendOnlyViolation, AuditEvent
from audit.services import audit_event_record
from tests.audit.conftest import ON_POSTGRES, raw_sql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return audit_event_record(action="test.event", actor_label="tester", metadata={"n": 1})


def test_saving_an_existing_event_is_refused(event):
    event.action = "something.else"
    with pytest.raises(AppendOnlyViolation):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "operation",
    [
        lambda qs: qs.update(action="x"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["action"]),
        lambda qs: qs.bulk_create([AuditEvent(action="forged", actor_label="x")]),
        lambda qs: AuditEvent.objects.update_or_create(pk=qs.first().pk, defaults={"action": "x"}),
    ],
    ids=["update", "delete", "bulk_update", "bulk_create", "update_or_create"],
)
def test_bulk_writes_through_the_queryset_are_refused(event, operation):
    with pytest.raises(AppendOnlyViolation):
        operation(AuditEvent.objects.filter(pk=event.pk))
    assert AuditEvent.objects.filter(action="test.event").count() == 1


def test_deleting_the_user_keeps_their_events_untouched(event):
    user = UserFactory(username="leaver")
    recorded, user_id = audit_event_record(action="test.by_user", actor=user), user.pk
    user.delete()
    stored = AuditEvent.objects.get(pk=recorded.pk)
    assert stored.actor_id == user_id
    assert stored.actor_label == "leaver"
    assert stored.hash == recorded.hash


def test_not_even_a_superuser_can_change_or_delete_an_event_in_the_admin(client, event):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    assert (
        client.post(
            reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    response = client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "forged"}
    )
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
    assert response.status_code in {200, 403, 405}


@ON_POSTGRES
def test_the_trigger_refuses_a_raw_sql_update(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw_sql("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@ON_POSTGRES
def test_the_trigger_refuses_a_raw_sql_delete(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def delete_as_the_purge(pk: int) -> int:
    """What the retention purge does: SET LOCAL the purge flag, then DELETE, in one transaction."""
    with transaction.atomic():
        raw_sql("SET LOCAL switchyard.audit_purge = 'on'")
        return raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [pk])


@ON_POSTGRES
def test_the_purge_setting_does_not_open_young_events_to_deletion(event):
    with pytest.raises(DatabaseError, match="append-only"):
        delete_as_the_purge(event.pk)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@ON_POSTGRES
def test_the_trigger_lets_the_purge_delete_events_past_the_floor_only_with_its_setting(record_at):
    old = record_at(400)
    with pytest.raises(DatabaseError), transaction.atomic():
        raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [old.pk])
    assert delete_as_the_purge(old.pk) == 1


@ON_POSTGRES
def test_the_trigger_keeps_privacy_events_for_24_months_even_during_a_purge(record_at):
    privacy = record_at(400, action="privacy.erasure")
    with pytest.raises(DatabaseError, match="append-only"):
        delete_as_the_purge(privacy.pk)
