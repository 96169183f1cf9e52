"""A person the app stores with a non-ASCII address can be exported and erased from the
browser; the privacy list shows whom each request concerned, masked, to those allowed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from audit.models import PrivacyRequest
from pipelines.models import RunRecord
from tests.conftest import make_persona
from tests.pipelines.conftest import contact_rows, import_rows
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)

SOREN = "søren.kierkegaard@firma.dk"


def _held() -> bool:
    return any(SOREN in str(r.raw.values()) for r in RunRecord.objects.all())


def test_export_and_erase_a_non_ascii_address(
    live_server, page, login_as, settings, tmp_path, sandbox, screenshot
):
    settings.MEDIA_ROOT = tmp_path / "media"
    import_rows(WorkflowFactory(), contact_rows(1, Email=SOREN))
    assert _held()
    login_as(make_persona("admin"))

    page.goto(f"{live_server.url}/admin/audit/privacyrequest/")
    page.click("#privacy-access")
    expect(page.locator("#id_email")).not_to_have_attribute("type", "email")
    page.fill("#id_email", SOREN)
    with page.expect_download() as download:
        page.click("#privacy-form input[type=submit]")
    assert "søren" in download.value.path().read_text(encoding="utf-8")

    page.goto(f"{live_server.url}/admin/audit/privacyrequest/erase/")
    page.fill("#id_email", SOREN)
    page.fill("#id_email_again", SOREN)
    page.check("#id_confirm")
    page.click("#privacy-form input[type=submit]")
    expect(page.locator("#content")).to_contain_text("Erasure receipt")
    assert not _held()

    page.goto(f"{live_server.url}/admin/audit/privacyrequest/")
    expect(page.locator("#result_list")).to_contain_text("s•••@firma.dk")
    screenshot("privacy-requests", page.locator("#result_list"))
    assert set(PrivacyRequest.objects.values_list("subject_masked", flat=True)) == {"s•••@firma.dk"}


def test_who_may_only_read_requests_does_not_see_whom_they_concerned(live_server, page, login_as):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    PrivacyRequest.objects.create(
        kind="access", email_hash="0" * 64, status="completed", subject_masked="s•••@firma.dk"
    )
    reader = UserFactory(username="dpo-reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_privacyrequest"))
    login_as(reader)

    page.goto(f"{live_server.url}/admin/audit/privacyrequest/")

    expect(page.locator("#result_list")).to_contain_text("Access export")
    expect(page.locator("#result_list")).not_to_contain_text("firma.dk")
