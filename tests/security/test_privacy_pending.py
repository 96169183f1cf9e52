"""Erasure reaches uploads previewed but never confirmed, and an email in a file's name;
pending uploads expire on a schedule, not only at the next upload."""

from __future__ import annotations

import io
import os
import time

import pytest
from django.core.files.storage import default_storage

from audit.privacy import privacy_erasure_perform
from pipelines.models import Run
from pipelines.screens.services import PENDING_DIR, import_upload_create, pending_uploads_expire
from pipelines.services.staging import run_create_csv
from tests.pipelines.conftest import contact_rows, csv_bytes
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db
EMAIL = "dana.scully@fbi.example"


@pytest.fixture
def workflow(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return WorkflowFactory()


def pending_text() -> str:
    _, names = default_storage.listdir(PENDING_DIR)
    return "".join(default_storage.open(f"{PENDING_DIR}/{name}").read().decode() for name in names)


def test_erasure_blanks_the_person_in_a_pending_upload(workflow, admin_user, monkeypatch):
    monkeypatch.setattr("pipelines.screens.services.run_preview_csv", _preview_stub)
    rows = contact_rows(3)
    rows[1]["Email"] = EMAIL.upper()
    import_upload_create(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(rows)),
        filename="leads.csv",
        check_destination=False,
        actor=admin_user,
    )
    assert EMAIL in pending_text().lower()
    receipt = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    removed = {s.store: s.removed for s in receipt.stores}
    assert removed["pipelines.pending_uploads"] == 1
    text = pending_text()
    assert EMAIL not in text.lower()
    assert "person0@acme-analytics.com" in text  # the others stay, row numbers unchanged
    assert len(text.strip().splitlines()) == 4


def test_erasure_removes_an_email_from_a_runs_file_name(workflow, admin_user):
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(1))),
        filename=f"export-{EMAIL.title()}.csv",
        actor_label="test",
        dispatch=False,
    )
    privacy_erasure_perform(email=EMAIL, actor=admin_user)
    run.refresh_from_db()
    assert EMAIL not in run.input_filename.lower()
    assert run.input_filename == "export-[erased].csv"


def test_pending_uploads_expire_by_the_task_after_a_day(workflow, admin_user, monkeypatch):
    from pipelines.tasks import pending_uploads_expire_task

    monkeypatch.setattr("pipelines.screens.services.run_preview_csv", _preview_stub)
    pending = import_upload_create(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(1))),
        filename="leads.csv",
        check_destination=False,
        actor=admin_user,
    )
    assert pending_uploads_expire() == 0  # fresh: kept for its confirmation
    old = time.time() - 25 * 3600
    os.utime(default_storage.path(pending.path), (old, old))
    assert pending_uploads_expire_task() == 1
    assert not default_storage.exists(pending.path)
    assert not Run.objects.exists()


def _preview_stub(**kwargs):
    from types import SimpleNamespace

    return SimpleNamespace(encoding="utf-8", delimiter=",", records_in=1, invalid=0)


def test_the_expiry_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Expire pending uploads")
    assert (task.task, task.enabled, task.interval.every, task.interval.period) == (
        "pipelines.pending_uploads_expire",
        True,
        1,
        "hours",
    )
