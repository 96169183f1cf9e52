"""A RevOps admin imports a Clay CSV in the browser, watches it run, fixes the one bad row
in the dead-letter editor and reprocesses it.

The live server runs in a thread of this process, so HubSpot calls go to an in-process
sandbox (integrations.registry.TRANSPORT_OVERRIDE). The test plays the Celery worker: the
services' run_prepare_task.delay is captured, and the test runs the core's inline runner for
that run while the page is polling; the progress bar then sees the run finish, as it would
with a real worker.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pipelines import tasks
from pipelines.models import Run, RunStatus, RunTrigger
from pipelines.services.runs import run_execute_inline
from tests.conftest import make_persona
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)

CSV = (
    "Work Email,First Name,Last Name,Company Name,Job Title,Clay Score\n"
    "ada@acme-analytics.com,Ada,Lovelace,Acme Analytics,VP Marketing,91\n"
    "grace@globex.io,Grace,Hopper,Globex,Head of RevOps,77\n"
    "alan(at)initech.de,Alan,Turing,Initech,Sales Director,64\n"
)


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """Run ids the services handed to Celery, in order."""
    queue: list[int] = []
    monkeypatch.setattr(tasks.run_prepare_task, "delay", lambda run_id: queue.append(run_id))
    return queue


def _work_off(queue: list[int]) -> Run:
    """What a worker would do with the last dispatched run."""
    return run_execute_inline(run_id=queue[-1], honour_backoff=False)


def test_import_fix_the_dead_letter_and_reprocess_it(
    live_server, page, login_as, settings, tmp_path, sandbox, dispatched
):
    settings.MEDIA_ROOT = tmp_path / "media"
    workflow = WorkflowFactory(slug="clay-contacts", name="Clay contacts")
    login_as(make_persona("admin"))

    # Upload from the operations home's links.
    page.goto(f"{live_server.url}/admin/")
    page.locator("#ops-links").get_by_role("link", name="Import a CSV").click()
    page.select_option("#id_workflow", str(workflow.pk))
    page.set_input_files(
        "#id_file",
        files=[{"name": "clay-export.csv", "mimeType": "text/csv", "buffer": CSV.encode()}],
    )
    page.click("input[name=upload]")

    # Dry run: detection, alias matching, counts and the bad row, nothing written yet.
    expect(page.locator("#import-encoding")).to_have_text("utf-8")
    expect(page.locator("#import-delimiter")).to_have_text(",")
    expect(page.locator("#import-detection")).to_contain_text("Work Email")
    expect(page.locator(".import-warning").first).to_contain_text("Clay Score")
    expect(page.locator("#count-would-create")).to_have_text("2")
    expect(page.locator("#count-invalid")).to_have_text("1")
    expect(page.locator("#import-errors")).to_contain_text("4")
    assert not Run.objects.exists()

    # Confirm: the run is handed to Celery and the page polls its progress.
    page.click("#confirm-import")
    expect(page.locator("#run-progress")).to_be_visible()
    run = Run.objects.get()
    assert dispatched == [run.pk]
    _work_off(dispatched)
    expect(page.locator("#run-status .sy-badge")).to_have_text("Partial", timeout=15_000)
    expect(page.locator("#run-progress")).to_have_count(0)
    expect(page.locator("#run-succeeded")).to_contain_text("2")
    expect(page.locator("#run-dead-lettered")).to_contain_text("1")

    # The dead letter: error beside the source row; fix the email and reprocess.
    page.locator("#run-dead-letters a").first.click()
    expect(page.locator("#dead-letter-errors")).to_contain_text("alan(at)initech.de")
    page.fill("input[name=p_email]", "alan@initech.de")
    page.click("#save-reprocess")

    expect(page.locator("#run-parent")).to_have_text(f"run {run.pk}")
    reprocess = Run.objects.get(trigger=RunTrigger.REPROCESS)
    assert dispatched == [run.pk, reprocess.pk]
    assert reprocess.parent_id == run.pk
    _work_off(dispatched)
    expect(page.locator("#run-status .sy-badge")).to_have_text("Success", timeout=15_000)
    expect(page.locator("#run-succeeded")).to_contain_text("1")

    # The old run now links the run that resolved its dead letter, and HubSpot has Alan.
    page.click("#run-parent")
    expect(page.locator("#run-children")).to_contain_text(f"run {reprocess.pk}")
    expect(page.locator("#run-dead-letters")).to_contain_text(
        re.compile(rf"reprocessed\s+in\s+run {reprocess.pk}")
    )
    emails = sorted(c["properties"]["email"] for c in sandbox.objects("contacts"))
    assert emails == ["ada@acme-analytics.com", "alan@initech.de", "grace@globex.io"]
    assert Run.objects.get(pk=reprocess.pk).status == RunStatus.SUCCESS
