"""A RevOps lead (Administrator) invites a person with a role from the browser, the person
sets a password from the link, and the lead changes the role; all audited. Other roles may
not, and nobody is made a superuser this way."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from audit.models import AuditEvent
from audit.roles import ADMINISTRATOR, REVOPS_ADMIN, VIEWER
from tests.conftest import make_persona
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_invite_a_person_and_change_their_role(live_server, page, browser, login_as, screenshot):
    lead = UserFactory(username="lena-lead", is_staff=True)
    lead.groups.add(Group.objects.get(name=ADMINISTRATOR))
    login_as(lead)

    page.goto(f"{live_server.url}/admin/switchyard/runs/")
    page.click("#team-link")
    page.fill("#id_username", "nina")
    page.fill("#id_email", "nina.nyström@firma.se")
    page.check(f"input[name=role][value='{VIEWER}']")
    screenshot("team-invite", page.locator("#team-invite"))
    page.click("#team-invite-submit")
    link = page.locator("#team-invite-link code").inner_text()
    nina = get_user_model().objects.get(username="nina")
    assert [g.name for g in nina.groups.all()] == [VIEWER]
    assert not nina.has_usable_password()

    # Nina sets her password from the link, in her own browser.
    other = browser.new_context()
    her = other.new_page()
    her.goto(link)
    her.fill("#id_new_password1", "a-long-passphrase-for-nina")
    her.fill("#id_new_password2", "a-long-passphrase-for-nina")
    her.locator("input[type=submit]").click()
    nina.refresh_from_db()
    assert nina.check_password("a-long-passphrase-for-nina")
    other.close()

    page.goto(f"{live_server.url}/admin/team/")
    row = page.locator("tr.team-member[data-username=nina]")
    row.locator("select[name=role]").select_option(REVOPS_ADMIN)
    row.locator("input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(f"nina is now {REVOPS_ADMIN}", re.IGNORECASE)
    )
    assert [g.name for g in nina.groups.all()] == [REVOPS_ADMIN]
    invited = AuditEvent.objects.get(action="user.invited")
    changed = AuditEvent.objects.get(action="user.role_changed")
    assert (invited.actor_label, invited.metadata["role"]) == ("lena-lead", VIEWER)
    assert changed.changes["role"] == [VIEWER, REVOPS_ADMIN]
    assert changed.ip_address
    assert changed.user_agent


def test_other_roles_cannot_manage_the_team(live_server, page, login_as):
    login_as(make_persona("engineer"))

    response = page.goto(f"{live_server.url}/admin/team/")

    assert response.status == 403
    expect(page.locator("#team-link")).to_have_count(0)


def test_an_administrator_cannot_make_a_superuser_in_the_user_admin(client):
    lead = UserFactory(username="lena-lead", is_staff=True)
    lead.groups.add(Group.objects.get(name=ADMINISTRATOR))
    victim = UserFactory(username="vic", is_staff=True)
    client.force_login(lead)

    page = client.get(f"/admin/auth/user/{victim.pk}/change/").content.decode()

    assert 'name="is_superuser"' not in page
