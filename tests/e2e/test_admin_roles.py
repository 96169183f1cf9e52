"""Each role logs in to the admin and sees only what the role allows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_persona
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_revops_admin_logs_in_with_the_form_and_sees_schedules_read_only(live_server, page):
    make_persona("admin")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin-persona")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_have_text("Switchyard")
    expect(page.locator("#operations-home")).to_be_visible()  # the landing page
    page.goto(f"{live_server.url}/admin/models/")
    schedules = page.locator("tr.model-periodictask")
    expect(schedules).to_be_visible()
    expect(schedules.locator("a.addlink")).to_have_count(0)
    expect(page.locator("tr.model-user")).to_have_count(0)


def test_integration_engineer_may_add_schedules(live_server, page, login_as):
    login_as(make_persona("engineer"))
    page.goto(f"{live_server.url}/admin/models/")
    expect(page.locator("tr.model-periodictask a.addlink")).to_be_visible()
    expect(page.locator("tr.model-user")).to_have_count(0)


def test_viewer_sees_the_audit_log_but_can_add_nothing(live_server, page, login_as):
    login_as(make_persona("viewer"))
    page.goto(f"{live_server.url}/admin/models/")
    expect(page.locator("tr.model-auditevent")).to_be_visible()
    expect(page.locator("a.addlink")).to_have_count(0)


def test_outsider_without_a_role_cannot_enter(live_server, page):
    make_persona("outsider")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "outsider-persona")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()
    assert page.url.endswith("/admin/login/")
