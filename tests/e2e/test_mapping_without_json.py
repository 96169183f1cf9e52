"""A RevOps admin edits transforms without JSON: each transform has a small form for its
parameters, checked as they type; the Viewer sees the mapping read-only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from pipelines.selectors import field_mapping_current
from tests.conftest import make_persona
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_transform_parameters_are_forms_checked_as_you_type(
    live_server, page, login_as, sandbox, screenshot
):
    workflow = WorkflowFactory(slug="clay-contacts")
    login_as(make_persona("admin"))
    page.goto(f"{live_server.url}/admin/switchyard/mappings/{workflow.pk}/")

    job = page.locator("tr.sy-rule", has=page.locator("input[value='jobtitle']"))
    expect(job.locator(".sy-step")).to_have_count(1)  # strip
    job.locator("select.sy-add-step").select_option("default")
    step = job.locator(".sy-step[data-transform=default]")
    expect(step).to_contain_text("value when empty is needed")
    step.locator("input[data-param=value]").fill("Unknown")
    expect(step.locator(".sy-step-problem")).to_have_text("")

    job.locator("select.sy-add-step").select_option("truncate")
    cut = job.locator(".sy-step[data-transform=truncate]")
    cut.locator("input[data-param=length]").fill("ten")
    expect(cut).to_contain_text("a whole number above 0")
    cut.locator("input[data-param=length]").fill("80")
    expect(cut.locator(".sy-step-problem")).to_have_text("")

    # A new rule with a replacement table for a dropdown property.
    page.click("#add-rule")
    row = page.locator("tr.sy-rule").last
    row.locator("input[name$=-source]").fill("Lead Status")
    row.locator("input[name$=-target]").fill("hs_lead_status")
    row.locator("select.sy-add-step").select_option("map_values")
    table = row.locator(".sy-step[data-transform=map_values]")
    expect(table).to_contain_text("add at least one replacement")
    table.locator(".sy-pair-from").first.fill("Hot")
    table.locator(".sy-pair-to").first.fill("OPEN")
    table.locator(".sy-pair-add").click()
    table.locator(".sy-pair-from").nth(1).fill("Cold")
    table.locator(".sy-pair-to").nth(1).fill("UNQUALIFIED")
    expect(table.locator(".sy-step-problem")).to_have_text("")
    screenshot("mapping-transform-forms", page.locator("#mapping-rules"))
    page.click("#save-mapping")

    expect(page.locator("#mapping-version")).to_have_text("v2")
    rules = {r["to"]: r for r in field_mapping_current(workflow=workflow).rules}
    assert rules["jobtitle"]["transforms"] == [
        "strip",
        {"name": "default", "params": {"value": "Unknown"}},
        {"name": "truncate", "params": {"length": 80}},
    ]
    assert rules["hs_lead_status"]["transforms"] == [
        {"name": "map_values", "params": {"mapping": {"Hot": "OPEN", "Cold": "UNQUALIFIED"}}}
    ]
    # Shown again as steps, not JSON.
    job = page.locator("tr.sy-rule", has=page.locator("input[value='jobtitle']"))
    expect(job.locator(".sy-step")).to_have_count(3)
    expect(job.locator("input[data-param=value]")).to_have_value("Unknown")


def test_the_viewer_sees_the_mapping_read_only(live_server, page, login_as, sandbox):
    workflow = WorkflowFactory(slug="clay-contacts")
    login_as(make_persona("viewer"))

    page.goto(f"{live_server.url}/admin/switchyard/mappings/{workflow.pk}/")

    expect(page.locator("#mapping-readonly")).to_be_visible()
    expect(page.locator("#mapping-rules input")).to_have_count(0)
    expect(page.locator("#mapping-rules")).to_contain_text("jobtitle")
    expect(page.locator("#save-mapping")).to_have_count(0)
