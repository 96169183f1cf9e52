"""Each kind of action lands in the audit log, with a masked before → after diff where it changes something."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission
from django.forms import SplitDateTimeWidget
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audit.models import AuditEvent
from tests.conftest import make_persona
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def last(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-id").first()
    assert event is not None, (
        f"no {action} event; have {list(AuditEvent.objects.values_list('action', flat=True))}"
    )
    return event


def admin_form_data(response, **overrides) -> dict:
    """The admin form's current values as POST data, as a browser would send them."""
    form = response.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, SplitDateTimeWidget):
            if isinstance(value, dt.datetime):
                data[f"{name}_0"], data[f"{name}_1"] = (
                    value.date().isoformat(),
                    value.time().strftime("%H:%M:%S"),
                )
            continue
        if value is None or value is False:
            continue
        data[name] = (
            [str(v) for v in value]
            if isinstance(value, (list, tuple))
            else ("on" if value is True else str(value))
        )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


# --- Authentication -----------------------------------------------------------------------------


def test_a_login_is_recorded_with_ip_user_agent_and_request_id(client, admin_user):
    client.post(
        reverse("admin:login"),
        {"username": admin_user.username, "password": PASSWORD},
        HTTP_USER_AGENT="pytest-browser",
        HTTP_X_REQUEST_ID="req-login-12345",
    )
    event = last("auth.login")
    assert event.actor_id == admin_user.pk
    assert event.actor_label == admin_user.username
    assert (event.ip_address, event.user_agent, event.request_id) == (
        "127.0.0.1",
        "pytest-browser",
        "req-login-12345",
    )


def test_a_logout_is_recorded(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("admin:logout"))
    assert last("auth.logout").actor_id == admin_user.pk


def test_a_failed_login_records_the_username_tried_and_never_the_password(client, admin_user):
    client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": "Wrong-Guess-9876"}
    )
    event = last("auth.login_failed")
    assert event.actor_label == admin_user.username
    assert event.metadata["username"] == admin_user.username
    assert "Wrong-Guess-9876" not in str(
        AuditEvent.objects.values_list("changes", "metadata", "object_repr")
    )


def test_a_permission_denial_in_the_admin_is_recorded_with_the_path(client, viewer):
    client.force_login(viewer)
    url = reverse("admin:django_celery_beat_periodictask_add")
    assert client.get(url).status_code == 403
    event = last("access.denied")
    assert event.actor_id == viewer.pk
    assert event.metadata["path"] == url
    assert event.object_id == "admin:django_celery_beat_periodictask_add"


def test_a_permission_denial_in_a_custom_view_is_recorded(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("admin:audit_privacyrequest_erase")).status_code == 403
    assert last("access.denied").metadata["reason"].startswith("PermissionDenied")
    assert AuditEvent.objects.filter(action="access.denied").count() == 1, "one denial, one event"


# --- Schedules (django-celery-beat) in the admin --------------------------------------------------


def test_creating_changing_and_deleting_a_schedule_in_the_admin_is_recorded_with_a_diff(
    client, engineer
):
    client.force_login(engineer)
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    response = client.post(
        reverse("admin:django_celery_beat_periodictask_add"),
        {
            "name": "Nightly HubSpot sync",
            "task": "switchyard.ping",
            "interval": every.pk,
            "enabled": "on",
            "args": "[]",
            "kwargs": "{}",
            "headers": "{}",
            "description": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    task = PeriodicTask.objects.get(name="Nightly HubSpot sync")
    created = last("periodictask.created")
    assert created.object_id == str(task.pk)
    assert created.actor_id == engineer.pk
    assert created.changes["name"] == [None, "Nightly HubSpot sync"]
    assert created.metadata["source"] == "admin"

    change_url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    data = admin_form_data(
        client.get(change_url), enabled=None, description="paused for the migration"
    )
    assert client.post(change_url, data).status_code == 302
    changed = last("periodictask.changed")
    assert changed.changes["enabled"] == [True, False]
    assert changed.changes["description"] == ["", "paused for the migration"]
    assert "name" not in changed.changes, "unchanged fields stay out of the diff"

    delete_url = reverse("admin:django_celery_beat_periodictask_delete", args=[task.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    deleted = last("periodictask.deleted")
    assert deleted.object_id == str(task.pk)
    assert deleted.changes["name"] == ["Nightly HubSpot sync", None]


def test_a_bulk_action_on_schedules_records_each_changed_schedule(client, engineer):
    client.force_login(engineer)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    tasks = [
        PeriodicTask.objects.create(name=f"t{i}", task="switchyard.ping", interval=every)
        for i in range(2)
    ]
    client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [t.pk for t in tasks]},
    )
    events = AuditEvent.objects.filter(action="periodictask.changed")
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(t.pk) for t in tasks)
    assert all(e.changes["enabled"] == [True, False] for e in events)


# --- Users and groups in the admin ------------------------------------------------------------------


def test_creating_a_user_is_recorded_without_the_password(client, root):
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newhire",
            "usable_password": "true",
            "password1": "A-long-initial-passphrase-42",
            "password2": "A-long-initial-passphrase-42",
        },
    )
    assert response.status_code == 302
    event = last("user.created")
    assert event.actor_label == "root"
    assert event.changes["username"] == [None, "newhire"]
    assert event.changes["password"] == [None, "•••• (changed)"]
    everything = str(list(AuditEvent.objects.values_list("changes", "metadata")))
    assert "A-long-initial-passphrase-42" not in everything
    assert "pbkdf2" not in everything
    assert "md5$" not in everything


def test_changing_a_user_records_a_diff_with_personal_fields_hashed_and_groups_by_id(client, root):
    user = UserFactory(username="ann", email="ann.lee@example.com", first_name="Ann")
    viewer_group = Group.objects.get(name="Viewer")
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[user.pk])
    data = admin_form_data(
        client.get(url),
        email="ann.chen@example.com",
        first_name="Annie",
        is_staff="on",
        groups=[str(viewer_group.pk)],
    )
    assert client.post(url, data).status_code == 302
    event = last("user.changed")
    assert event.changes["is_staff"] == [False, True]
    assert event.changes["groups"] == [[], [viewer_group.pk]]
    assert event.changes["email"][1].startswith("hash:")
    assert event.changes["first_name"][1].startswith("hash:")
    text = str(event.changes)
    assert "ann.chen@example.com" not in text
    assert "ann.lee@example.com" not in text
    assert "Annie" not in text


def test_changing_a_password_in_the_admin_is_recorded_without_it(client, root):
    user = UserFactory(username="bob")
    client.force_login(root)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = client.post(
        url,
        {
            "password1": "Brand-new-passphrase-77",
            "password2": "Brand-new-passphrase-77",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    event = last("user.password_changed")
    assert event.object_id == str(user.pk)
    assert "Brand-new" not in str(event.changes)


def test_deleting_a_user_is_recorded(client, root):
    user = UserFactory(username="leaver")
    client.force_login(root)
    client.post(reverse("admin:auth_user_delete", args=[user.pk]), {"post": "yes"})
    event = last("user.deleted")
    assert event.object_id == str(user.pk)
    assert event.object_repr == "leaver"


def test_changing_a_groups_permissions_is_recorded(client, root):
    group = Group.objects.create(name="Contractors")
    permission = Permission.objects.get(codename="view_auditevent")
    client.force_login(root)
    url = reverse("admin:auth_group_change", args=[group.pk])
    assert (
        client.post(url, {"name": "Contractors", "permissions": [permission.pk]}).status_code == 302
    )
    assert last("group.changed").changes["permissions"] == [[], [permission.pk]]


def test_a_role_persona_cannot_reach_user_management_and_the_attempt_is_recorded(client):
    engineer = make_persona("engineer")
    client.force_login(engineer)
    assert client.get(reverse("admin:auth_user_add")).status_code == 403
    assert last("access.denied").actor_id == engineer.pk
