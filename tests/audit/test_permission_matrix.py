"""Least privilege in the audit app's own views: each role × each view and action.

Written out by hand, not derived from the roles, so a role change shows up as a failing row.
Superusers can do everything; outsiders (no role, not staff) are sent to the login page.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_event_record
from tests.factories import UserFactory

OK, DENIED, LOGIN = 200, 403, 302
PERSONAS = ("admin", "engineer", "viewer", "outsider")
ERASE = {"email": "x@example.org", "email_again": "x@example.org", "confirm": "on"}

# (label, method, url name, args, data) -> expected for admin, engineer, viewer, outsider
MATRIX = [
    (("audit log list", "get", "admin:audit_auditevent_changelist", "", None), (OK, OK, OK, LOGIN)),
    (
        ("audit event detail", "get", "admin:audit_auditevent_change", "event", None),
        (OK, OK, OK, LOGIN),
    ),
    (
        ("audit export csv", "get", "admin:audit_auditevent_export", "", {"format": "csv"}),
        (OK, OK, OK, LOGIN),
    ),
    (
        ("audit export json", "get", "admin:audit_auditevent_export", "", {"format": "json"}),
        (OK, OK, OK, LOGIN),
    ),
    (
        ("audit event delete", "post", "admin:audit_auditevent_delete", "event", {"post": "yes"}),
        (DENIED, DENIED, DENIED, LOGIN),
    ),
    (
        ("privacy requests list", "get", "admin:audit_privacyrequest_changelist", "", None),
        (OK, OK, DENIED, LOGIN),
    ),
    (
        ("erasure form", "get", "admin:audit_privacyrequest_erase", "", None),
        (OK, OK, DENIED, LOGIN),
    ),
    (
        ("erasure submit", "post", "admin:audit_privacyrequest_erase", "", ERASE),
        (OK, OK, DENIED, LOGIN),
    ),
    (
        ("access export form", "get", "admin:audit_privacyrequest_access", "", None),
        (OK, OK, DENIED, LOGIN),
    ),
    (
        (
            "access export download",
            "post",
            "admin:audit_privacyrequest_access",
            "",
            {"email": "x@example.org", "format": "json"},
        ),
        (OK, OK, DENIED, LOGIN),
    ),
    (
        ("suppression list", "get", "admin:audit_suppressedemail_changelist", "", None),
        (OK, OK, DENIED, LOGIN),
    ),
]


@pytest.mark.parametrize(("row", "expected"), MATRIX, ids=[row[0] for row, _ in MATRIX])
@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_audit_permission_matrix(client, persona, row, expected):
    _label, method, name, args, data = row
    event = audit_event_record(action="test.event", actor_label="tester")
    client.force_login(persona)
    url = reverse(name, args=[event.pk] if args == "event" else [])
    response = getattr(client, method)(url, data or {})
    want = expected[PERSONAS.index(persona.username.removesuffix("-persona"))]
    assert response.status_code == want, (
        f"{persona.username} {method} {name}: {response.status_code}"
    )
    if want == DENIED:
        assert AuditEvent.objects.filter(action="access.denied", actor_id=persona.pk).exists()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_viewing_the_log_does_not_imply_exporting_it(client):
    reader = UserFactory(username="reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(reader)
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == OK
    assert b"export-csv" not in client.get(reverse("admin:audit_auditevent_changelist")).content
    assert (
        client.get(reverse("admin:audit_auditevent_export"), {"format": "csv"}).status_code
        == DENIED
    )


@pytest.mark.django_db
def test_exporting_personal_data_does_not_imply_erasing(client):
    exporter = UserFactory(username="exporter", is_staff=True)
    exporter.user_permissions.add(Permission.objects.get(codename="export_personal_data"))
    client.force_login(exporter)
    assert client.get(reverse("admin:audit_privacyrequest_access")).status_code == OK
    assert client.post(reverse("admin:audit_privacyrequest_erase"), ERASE).status_code == DENIED


@pytest.mark.django_db
def test_a_superuser_may_use_every_audit_view(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for name in (
        "admin:audit_auditevent_changelist",
        "admin:audit_privacyrequest_erase",
        "admin:audit_privacyrequest_access",
        "admin:audit_privacyrequest_changelist",
    ):
        assert client.get(reverse(name)).status_code == OK, name
