"""Refusals inside the admin, in words; "View site" and the favicon."""

from __future__ import annotations

import logging

import pytest
from playwright.sync_api import expect

from tests.conftest import make_persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_page_names_the_missing_permission_and_offers_a_way_back(
    live_server, page, login_as, screenshot
):
    login_as(make_persona("viewer"))
    page.goto(f"{live_server.url}/admin/switchyard/runs/")

    response = page.goto(
        f"{live_server.url}/admin/switchyard/import/",
        referer=f"{live_server.url}/admin/switchyard/runs/",
    )

    assert response.status == 403
    expect(page.locator("#forbidden-permission")).to_have_text(
        "Can import CSV files into a workflow"
    )
    expect(page.locator("#site-name")).to_contain_text("Switchyard")  # the admin's layout
    expect(page.locator("#forbidden-back")).to_have_attribute(
        "href", f"{live_server.url}/admin/switchyard/runs/"
    )
    screenshot("forbidden", page.locator("#content"))


def test_a_refusal_is_one_log_line(client, viewer, caplog):
    client.force_login(viewer)
    from config.logging import ForbiddenOneLineFilter

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/admin/switchyard/import/")

    records = [r for r in caplog.records if r.name == "django.request"]
    assert response.status_code == 403
    assert len(records) == 1
    ForbiddenOneLineFilter().filter(records[0])
    assert records[0].exc_info is None
    assert "Forbidden" in records[0].getMessage()


def test_view_site_leads_home_and_there_is_a_favicon(live_server, page, login_as):
    login_as(make_persona("admin"))
    page.goto(f"{live_server.url}/admin/switchyard/runs/")

    page.get_by_role("link", name="View site").click()

    expect(page).to_have_url(f"{live_server.url}/admin/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").ok
    assert page.request.get(f"{live_server.url}/favicon.ico").ok
