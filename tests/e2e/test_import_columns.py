"""An unmatched required column is no dead end: the admin picks the file's column for it in
the wizard (remembered in the mapping as an alias, so the next file is matched alone), and
may send an unmapped column to a HubSpot property."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from pipelines import tasks
from pipelines.models import Run
from pipelines.selectors import field_mapping_current
from pipelines.services.preview import run_preview_csv
from pipelines.services.runs import run_execute_inline
from tests.conftest import make_persona
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db(transaction=True)

# A French export: nothing in the synonyms matches "Courriel".
CSV = (
    "Courriel,Prénom,Société,Segment\n"
    "ada@acme-analytics.com,Ada,Acme Analytics,Enterprise\n"
    "zoe@umbrella-labs.fr,Zoë,Umbrella Labs,SMB\n"
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    queue: list[int] = []
    monkeypatch.setattr(tasks.run_prepare_task, "delay", lambda run_id: queue.append(run_id))
    return queue


def test_pick_the_missing_column_and_send_an_extra_one(
    live_server, page, login_as, settings, tmp_path, sandbox, dispatched, screenshot
):
    settings.MEDIA_ROOT = tmp_path / "media"
    workflow = WorkflowFactory(slug="clay-contacts")
    login_as(make_persona("admin"))

    page.goto(f"{live_server.url}/admin/switchyard/import/")
    page.set_input_files(
        "#id_file",
        files=[{"name": "export-fr.csv", "mimeType": "text/csv", "buffer": CSV.encode()}],
    )
    page.click("input[name=upload]")
    expect(page.locator("#import-missing")).to_contain_text("lacks required column(s): Email")
    expect(page.locator("#confirm-import")).to_have_count(0)

    picker = page.locator("tr.import-column", has_text="Email").locator("select")
    picker.select_option("Courriel")
    page.locator("tr.import-column", has_text="First Name").locator("select").select_option(
        "Prénom"
    )
    page.locator("tr.import-column", has_text="Company Name").locator("select").select_option(
        "Société"
    )
    page.locator("tr.import-extra", has_text="Segment").locator("input").fill("industry")
    screenshot("import-pick-columns", page.locator("#import-columns"))
    page.click("#apply-columns")

    expect(page.locator("#count-would-create")).to_have_text("2")
    rules = {r["from"]: r for r in field_mapping_current(workflow=workflow).rules}
    assert rules["Email"]["aliases"] == ["Courriel"]
    assert rules["First Name"]["aliases"] == ["Prénom"]
    assert rules["Segment"]["to"] == "industry"
    page.click("#confirm-import")
    run_execute_inline(run_id=dispatched[-1], honour_backoff=False)
    expect(page.locator("#run-succeeded")).to_contain_text("2", timeout=15_000)

    sent = {c["properties"]["email"]: c["properties"] for c in sandbox.objects("contacts")}
    assert sent["zoe@umbrella-labs.fr"]["firstname"] == "Zoë"
    assert sent["zoe@umbrella-labs.fr"]["company"] == "Umbrella Labs"
    assert sent["zoe@umbrella-labs.fr"]["industry"] == "SMB"
    # The next file with these columns is matched alone.
    again = run_preview_csv(workflow=workflow, file=io.BytesIO(CSV.encode()))
    assert again.matched["Email"] == "Courriel"
    assert Run.objects.count() == 1
