"""A RevOps admin works through the dead-letter queue in the browser: one open letter per
person however often the file was imported, grouped by what needs fixing with the fix, found
by email or error text, the failed value beside its box, and a whole group reprocessed with
every field of the alias-matched file intact."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from pipelines import tasks
from pipelines.models import DeadLetter, DeadLetterResolution, Run, RunStatus, RunTrigger
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv
from tests.conftest import make_persona
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)

# An Apollo-style export: every mapped column under another name.
CSV = (
    "Work Email,First Name,Company,Title,Phone Number,Company Website,Country\n"
    "ada@acme-analytics.com,Ada,Acme Analytics,VP Marketing,+1 650 253 0000,acme-analytics.com,United States\n"
    "grace@globex.io,Grace,Globex,Head of RevOps,12,globex.io,United Kingdom\n"
    "alan(at)initech.de,Alan,Initech,Sales Director,,initech.de,Germany\n"
    "zoe@umbrella-labs.fr,Zoë,Umbrella Labs,CRO,+33 1 42 68 53 00,umbrella-labs.fr,France\n"
)


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    queue: list[int] = []
    monkeypatch.setattr(tasks.run_prepare_task, "delay", lambda run_id: queue.append(run_id))
    return queue


def _import(workflow, name: str) -> Run:
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(CSV.encode()),
        filename=name,
        actor_label="test",
        dispatch=False,
    )
    return run_execute_inline(run_id=run.pk, honour_backoff=False)


def test_work_through_the_queue(
    live_server, page, login_as, settings, tmp_path, sandbox, dispatched, screenshot
):
    settings.MEDIA_ROOT = tmp_path / "media"
    workflow = WorkflowFactory(slug="apollo-contacts")
    # The HubSpot app lost its write scope: the good rows fail at HubSpot, the bad ones here.
    sandbox.configure(missing_scopes={"crm.objects.contacts.write"})
    for name in ("monday.csv", "tuesday.csv", "wednesday.csv"):
        _import(workflow, name)
    assert DeadLetter.objects.count() == 12
    assert DeadLetter.objects.filter(resolution="").count() == 4  # one per person
    assert DeadLetter.objects.filter(resolution=DeadLetterResolution.SUPERSEDED).count() == 8
    login_as(make_persona("admin"))

    page.goto(f"{live_server.url}/admin/switchyard/dead-letters/")
    expect(page.locator("#dead-letter-list tbody tr")).to_have_count(4)
    groups = page.locator("#dead-letter-groups")
    expect(groups).to_contain_text("HubSpot app lacks a permission")
    expect(groups).to_contain_text("Reconnect HubSpot granting the scope")
    expect(groups).to_contain_text("Invalid in the source")
    expect(groups.locator("tr.dead-letter-group").first.locator(".group-count")).to_have_text("2")
    screenshot("dead-letter-groups", groups)

    # Search by email, then by words of the error.
    page.fill("#id_q", "initech")
    page.click("#dead-letter-filter input[type=submit]")
    expect(page.locator("#dead-letter-list tbody tr")).to_have_count(1)
    expect(page.locator("#dead-letter-list")).to_contain_text("alan(at)initech.de")
    page.fill("#id_q", "phone")
    page.click("#dead-letter-filter input[type=submit]")
    expect(page.locator("#dead-letter-list tbody tr")).to_have_count(1)

    # The failed phone is shown beside its (empty) box.
    page.locator("#dead-letter-list tbody a").first.click()
    expect(page.locator("input[name=p_phone]")).to_have_value("")
    expect(page.locator("#dead-letter-payload")).to_contain_text("Failed value: “12”")
    expect(page.locator("#dead-letter-fix")).to_contain_text("Correct the value")
    screenshot("dead-letter-failed-value", page.locator("#dead-letter-payload"))

    # The scope is granted again; reprocess the whole missing-scope group from the list.
    sandbox.configure(missing_scopes=set())
    page.goto(f"{live_server.url}/admin/switchyard/dead-letters/")
    groups.locator("tr.dead-letter-group", has_text="lacks a permission").locator(
        ".group-show"
    ).click()
    expect(page.locator("#dead-letter-list tbody tr")).to_have_count(2)
    page.click("#reprocess-category")
    reprocess = Run.objects.get(trigger=RunTrigger.REPROCESS)
    expect(page.locator("#run-waiting-for")).to_contain_text("2 dead letters")
    run_execute_inline(run_id=dispatched[-1], honour_backoff=False)
    expect(page.locator("#run-status .sy-badge")).to_have_text("Success", timeout=15_000)

    sent = {c["properties"]["email"]: c["properties"] for c in sandbox.objects("contacts")}
    assert set(sent) == {"ada@acme-analytics.com", "zoe@umbrella-labs.fr"}
    assert sent["zoe@umbrella-labs.fr"]["company"] == "Umbrella Labs"
    assert sent["zoe@umbrella-labs.fr"]["jobtitle"] == "CRO"
    assert sent["zoe@umbrella-labs.fr"]["phone"] == "+33142685300"
    assert sent["ada@acme-analytics.com"]["website"] == "https://acme-analytics.com"
    assert Run.objects.get(pk=reprocess.pk).status == RunStatus.SUCCESS
