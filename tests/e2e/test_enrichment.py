"""A RevOps admin adds a score rule in the browser, presses Run now, watches the run,
reads why each company scored what it did, and the company is updated in the HubSpot sandbox
and announced in Slack.

The live server runs in a thread of this process, so providers are in-process stand-ins
behind integrations.registry, Slack's included. The test plays
the Celery worker: the run handed to enrichment_run_task.delay is executed while the page
polls, as a worker would."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from enrichment import tasks
from enrichment.services import enrichment_run_execute
from pipelines.models import Run
from tests.conftest import make_persona
from tests.enrichment.world import seed_companies

pytestmark = pytest.mark.django_db(transaction=True)


def test_configure_run_now_watch_and_read_the_breakdown(
    live_server,
    page,
    login_as,
    world,
    workflow,
    monkeypatch,
    tmp_path,
):
    queue: list[int] = []
    monkeypatch.setattr(tasks.enrichment_run_task, "delay", queue.append)
    world.apollo.seed_organization(
        "acme.com", estimated_num_employees=420, industry="computer software"
    )
    world.builtwith.seed_technologies("acme.com", ["Salesforce", "Segment"])
    seed_companies(world, ["acme.com"])
    login_as(make_persona("admin"))

    # Configure: one more score rule, built from pickers and plain inputs.
    page.goto(f"{live_server.url}/admin/switchyard/enrichment/")
    page.click("#configure-daily-company-enrichment")
    row = page.locator("tr.score-rule").last
    row.locator("input[name$=-field]").fill("industry")
    row.locator("select[name$=-op]").select_option("in")
    row.locator("input[name$=-value]").fill("COMPUTER_SOFTWARE, INTERNET")
    row.locator("input[name$=-points]").fill("30")
    page.click("#save-configuration")
    expect(page.locator(".messagelist")).to_contain_text("rules version 2")
    page.screenshot(path=str(tmp_path / "configure.png"), full_page=True)

    # Run now → the run page shows progress until the worker finishes.
    page.goto(f"{live_server.url}/admin/switchyard/enrichment/")
    page.click("#run-now-daily-company-enrichment")
    expect(page.locator("#run-progress")).to_be_visible()
    run = Run.objects.get()
    assert queue == [run.pk]
    enrichment_run_execute(run_id=run.pk)
    expect(page.locator("#run-status .sy-badge")).to_have_text("Success", timeout=15_000)

    # Per company: sources, winning values with their source, the score and why.
    company = page.locator("tr.company-row[data-domain='acme.com']")
    expect(company.locator(".company-sources")).to_contain_text("apollo: found")
    expect(company.locator(".company-values")).to_contain_text("numberofemployees: 420 from apollo")
    expect(company.locator(".company-values")).to_contain_text("industry: COMPUTER_SOFTWARE")
    expect(company.locator(".company-score")).to_contain_text("80")
    expect(company.locator(".company-score")).to_contain_text(
        "+30 industry is one of COMPUTER_SOFTWARE, INTERNET"
    )
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)

    # The company is updated in HubSpot, and Slack got the announcement and the summary.
    props = world.companies()["acme.com"]["properties"]
    assert (props["switchyard_fit_score"], props["numberofemployees"]) == ("80", "420")
    texts = world.slack.texts()
    assert texts[0].startswith("High-fit account: Acme (acme.com) scored 80:")
    assert "daily-company-enrichment: 1 companies enriched" in texts[1]
