"""Who may do what in the admin: each role × each screen and action.

Expected statuses are written out by hand (not derived from the role definitions), so a change
to a role shows up here as a failing row.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.roles import INTEGRATION_ENGINEER, REVOPS_ADMIN, ROLE_PERMISSIONS, VIEWER

OK, FORBIDDEN, LOGIN = 200, 403, 302

# (url name, args) -> expected status for admin, engineer, viewer, outsider
MATRIX = {
    ("admin:index", ()): (OK, OK, OK, LOGIN),
    ("admin:audit_auditevent_changelist", ()): (OK, OK, OK, LOGIN),
    ("admin:audit_auditevent_add", ()): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
    ("admin:django_celery_beat_periodictask_changelist", ()): (OK, OK, OK, LOGIN),
    ("admin:django_celery_beat_periodictask_add", ()): (FORBIDDEN, OK, FORBIDDEN, LOGIN),
    ("admin:django_celery_beat_crontabschedule_add", ()): (FORBIDDEN, OK, FORBIDDEN, LOGIN),
    ("admin:auth_user_changelist", ()): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
    # Records of work are written by the pipeline's services only, never typed in the admin.
    ("admin:pipelines_run_changelist", ()): (OK, OK, OK, LOGIN),
    ("admin:pipelines_run_add", ()): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
    ("admin:pipelines_deadletter_add", ()): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
    ("admin:pipelines_inboundevent_add", ()): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
    ("admin:pipelines_workflow_add", ()): (OK, OK, FORBIDDEN, LOGIN),
    ("admin:integrations_connection_add", ()): (FORBIDDEN, OK, FORBIDDEN, LOGIN),
    ("admin:auth_group_change", ("role",)): (FORBIDDEN, FORBIDDEN, FORBIDDEN, LOGIN),
}
PERSONAS = ("admin", "engineer", "viewer", "outsider")


def test_the_data_migration_created_the_three_roles(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        REVOPS_ADMIN,
        INTEGRATION_ENGINEER,
        VIEWER,
    }


def test_viewer_holds_only_view_permissions_and_cannot_export_personal_data(db):
    perms = set(Group.objects.get(name=VIEWER).permissions.values_list("codename", flat=True))
    assert perms, "the viewer role has no permission at all"
    assert all(p.startswith(("view_", "export_auditevent")) for p in perms), perms
    assert "export_personal_data" not in perms


def test_engineer_can_do_everything_a_revops_admin_can(db):
    def perms(role):
        return set(Group.objects.get(name=role).permissions.values_list("id", flat=True))

    assert perms(REVOPS_ADMIN) < perms(INTEGRATION_ENGINEER)


def test_only_the_administrator_may_manage_users_and_nobody_groups(db):
    from audit.roles import ADMINISTRATOR

    for role in ROLE_PERMISSIONS:
        auth = set(
            Group.objects.get(name=role)
            .permissions.filter(content_type__app_label="auth")
            .values_list("codename", flat=True)
        )
        expected = {"view_user", "add_user", "change_user"} if role == ADMINISTRATOR else set()
        assert auth == expected, role


@pytest.mark.parametrize(("url", "expected"), MATRIX.items(), ids=[u[0] for u in MATRIX])
@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_admin_permission_matrix(client, persona, url, expected):
    name, args = url
    if args == ("role",):
        args = (Group.objects.get(name=VIEWER).pk,)
    client.force_login(persona)
    response = client.get(reverse(name, args=args))
    want = expected[PERSONAS.index(persona.username.removesuffix("-persona"))]
    assert response.status_code == want, f"{persona.username} {name}: {response.status_code}"
