"""The README's first steps: `make demo` seeds its history through the real pipeline into the
HubSpot sandbox process, then the admin imports the sample file and sees contacts created.

The sandbox runs as a server on a free port (as `make demo` runs it), reached over HTTP by
the demo connection; no in-process transport override is involved.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from integrations import registry
from pipelines import tasks
from pipelines.models import Run, SyncedContact, Workflow
from pipelines.services.demo import demo_pipelines_seed
from pipelines.services.runs import run_execute_inline
from sandbox.hubspot import HubSpotSandbox
from tests.conftest import make_persona

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "clay-contacts.csv"


@pytest.fixture
def sandbox_process(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", None)
    app = HubSpotSandbox()
    server, thread = app.serve("127.0.0.1", 0)
    settings.SWITCHYARD_SANDBOX_URL = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    queue: list[int] = []
    monkeypatch.setattr(tasks.run_prepare_task, "delay", lambda run_id: queue.append(run_id))
    return queue


def _synced_and_held(app: HubSpotSandbox) -> tuple[set[str], set[str]]:
    held = {c["properties"]["email"] for c in app.objects("contacts")}
    synced = set(SyncedContact.objects.values_list("match_key", flat=True))
    return synced, held


def _import_sample(page, live_server, dispatched) -> Run:
    page.goto(f"{live_server.url}/admin/switchyard/import/")
    page.set_input_files("#id_file", str(SAMPLE))
    page.check("#id_check_destination")
    page.click("input[name=upload]")
    expect(page.locator("#count-would-create")).to_have_text("47")
    expect(page.locator("#count-unchanged")).to_have_text("0")
    page.click("#confirm-import")
    run = run_execute_inline(run_id=dispatched[-1], honour_backoff=False)
    expect(page.locator("#run-succeeded")).to_contain_text("47 (47 new in HubSpot)", timeout=15_000)
    return run


def test_demo_history_is_in_the_sandbox_and_the_sample_creates_contacts(
    live_server, page, login_as, sandbox_process, dispatched, screenshot
):
    demo_pipelines_seed()
    synced, held = _synced_and_held(sandbox_process)
    assert synced
    assert synced == held  # Switchyard's sync state and the sandbox agree
    assert Workflow.objects.get(slug="clay-to-hubspot").runs.count() == 3
    login_as(make_persona("admin"))

    page.goto(f"{live_server.url}/admin/switchyard/import/")
    page.set_input_files("#id_file", str(SAMPLE))
    page.check("#id_check_destination")
    page.click("input[name=upload]")
    expect(page.locator("#count-would-create")).to_have_text("47")
    expect(page.locator("#import-duplicates")).to_contain_text("5, 52")
    screenshot("import-preview", page.locator("#import-counts"))
    page.click("#confirm-import")
    run_execute_inline(run_id=dispatched[-1], honour_backoff=False)

    expect(page.locator("#run-succeeded")).to_contain_text("47 (47 new in HubSpot)", timeout=15_000)
    assert len(sandbox_process.objects("contacts")) == len(held) + 47


def test_after_the_sandbox_restarts_empty_the_demo_forgets_its_sync_state_with_it(
    live_server, page, login_as, sandbox_process, dispatched, settings
):
    demo_pipelines_seed()
    login_as(make_persona("admin"))
    _import_sample(page, live_server, dispatched)
    httpx.post(f"{settings.SWITCHYARD_SANDBOX_URL}/__sandbox__/reset").raise_for_status()

    changes = demo_pipelines_seed()  # what `make demo` does at its next start

    assert any("fresh sync state" in change for change in changes)
    assert not SyncedContact.objects.exists()
    _import_sample(page, live_server, dispatched)
    assert len(sandbox_process.objects("contacts")) == 47
