"""Who may open each screen and do each action. Expected statuses are written out by hand:
302 = sent to the admin login (no staff role), 403 = logged in but not allowed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.models import DeadLetter, FieldMappingVersion, Run
from tests.conftest import make_persona
from tests.screens.conftest import GOOD_ROWS, csv_bytes
from tests.screens.test_mapping_editor import rules_post

pytestmark = pytest.mark.django_db

PERSONAS = ("admin", "engineer", "viewer", "outsider")

#            screen                 admin engineer viewer outsider
GET_MATRIX = {
    "import": (200, 200, 403, 302),
    "runs": (200, 200, 200, 302),
    "run": (200, 200, 200, 302),
    "run-progress": (200, 200, 200, 302),
    "run-record": (200, 200, 200, 302),
    "run-input-file": (200, 200, 403, 302),
    "dead-letters": (200, 200, 200, 302),
    "dead-letter": (200, 200, 200, 302),
    "dead-letters-export": (200, 200, 403, 302),
    "mappings": (200, 200, 200, 302),
    "mapping": (200, 200, 200, 302),
}

#            action                 admin engineer viewer outsider
POST_MATRIX = {
    "upload": (200, 200, 403, 302),
    "dead-letter-save": (302, 302, 403, 302),
    "dead-letter-ignore": (302, 302, 403, 302),
    "dead-letter-reprocess": (302, 302, 403, 302),
    "bulk-reprocess": (302, 302, 403, 302),
    "bulk-ignore": (302, 302, 403, 302),
    "mapping-save": (302, 302, 403, 302),
    "mapping-preview": (200, 200, 403, 302),
}


def _get_url(name: str, run: Run, letter: DeadLetter) -> str:
    args = {
        "run": [run.pk],
        "run-progress": [run.pk],
        "run-input-file": [run.pk],
        "run-record": [run.pk, letter.record_id],
        "dead-letter": [letter.pk],
        "mapping": [run.workflow_id],
    }.get(name, [])
    return reverse(f"switchyard:{name}", args=args)


def _post(client, name: str, run: Run, letter: DeadLetter):
    from django.core.files.uploadedfile import SimpleUploadedFile

    detail = reverse("switchyard:dead-letter", args=[letter.pk])
    bulk = reverse("switchyard:dead-letters")
    if name == "upload":
        upload = SimpleUploadedFile("contacts.csv", csv_bytes(GOOD_ROWS), content_type="text/csv")
        return client.post(
            reverse("switchyard:import"), {"workflow": run.workflow_id, "file": upload}
        )
    if name == "dead-letter-save":
        return client.post(detail, {"action": "save", "p_email": "alan@initech.de"})
    if name == "dead-letter-ignore":
        return client.post(detail, {"action": "ignore", "reason": "test contact"})
    if name == "dead-letter-reprocess":
        return client.post(detail, {"action": "reprocess", "p_email": "alan@initech.de"})
    if name == "bulk-reprocess":
        return client.post(bulk, {"action": "reprocess", "ids": [letter.pk]})
    if name == "bulk-ignore":
        return client.post(
            bulk, {"action": "ignore", "ids": [letter.pk], "reason": "duplicate person"}
        )
    rules = rules_post(FieldMappingVersion.objects.get(workflow=run.workflow).rules)
    if name == "mapping-save":
        return client.post(reverse("switchyard:mapping", args=[run.workflow_id]), rules)
    return client.post(reverse("switchyard:mapping-preview", args=[run.workflow_id]), rules)


@pytest.mark.parametrize("persona", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize("screen", GET_MATRIX)
def test_each_role_opens_only_the_screens_it_may(
    client, finished_run, dead_letter, persona, screen
):
    client.force_login(make_persona(PERSONAS[persona]))

    response = client.get(_get_url(screen, finished_run, dead_letter))

    assert response.status_code == GET_MATRIX[screen][persona]


@pytest.mark.parametrize("persona", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize("action", POST_MATRIX)
def test_each_role_may_only_do_the_actions_it_is_allowed(
    client, finished_run, dead_letter, persona, action
):
    client.force_login(make_persona(PERSONAS[persona]))

    response = _post(client, action, finished_run, dead_letter)

    assert response.status_code == POST_MATRIX[action][persona], getattr(response, "content", b"")[
        :500
    ]


def test_a_refused_action_changes_nothing(client, viewer, finished_run, dead_letter):
    client.force_login(viewer)
    runs_before = Run.objects.count()

    for action in POST_MATRIX:
        _post(client, action, finished_run, dead_letter)

    dead_letter.refresh_from_db()
    assert (dead_letter.resolution, dead_letter.original_payload) == ("", None)
    assert Run.objects.count() == runs_before
    assert FieldMappingVersion.objects.filter(workflow=finished_run.workflow).count() == 1


def test_viewer_sees_the_dead_letter_but_no_buttons_to_change_it(client, viewer, dead_letter):
    client.force_login(viewer)

    detail = client.get(reverse("switchyard:dead-letter", args=[dead_letter.pk])).content.decode()
    listing = client.get(reverse("switchyard:dead-letters")).content.decode()

    assert "not-an-email" in detail  # the source row, read-only
    assert 'id="save-reprocess"' not in detail
    assert 'id="ignore-letter"' not in detail
    assert 'id="reprocess-selected"' not in listing
    assert 'id="dead-letter-export"' not in listing


def test_admin_index_links_the_screens_each_role_may_open(client, admin_user, viewer):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert all(
        reverse(f"switchyard:{n}") in page for n in ("import", "dead-letters", "runs", "mappings")
    )

    client.force_login(viewer)
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("switchyard:import") not in page
    assert all(reverse(f"switchyard:{n}") in page for n in ("dead-letters", "runs", "mappings"))


def test_csv_import_is_its_own_permission_held_by_admins_and_engineers_only(db):
    from django.contrib.auth.models import Group

    from audit.roles import INTEGRATION_ENGINEER, REVOPS_ADMIN, VIEWER

    def holds(role):
        return Group.objects.get(name=role).permissions.filter(codename="import_csv").exists()

    assert (holds(REVOPS_ADMIN), holds(INTEGRATION_ENGINEER), holds(VIEWER)) == (True, True, False)
