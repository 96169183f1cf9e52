"""The CSV import wizard: upload → detection and matching → dry-run preview → confirm → run.
A refused file is answered with its reason and nothing is written."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from pipelines.models import DeadLetter, Run, RunRecord, RunStatus
from pipelines.screens.services import PENDING_DIR
from pipelines.services.runs import run_execute_inline
from tests.screens.conftest import BAD_ROW, GOOD_ROWS, csv_bytes

pytestmark = pytest.mark.django_db


def _upload(client, workflow, data: bytes, name: str = "contacts.csv"):
    return client.post(
        reverse("switchyard:import"),
        {
            "workflow": workflow.pk,
            "file": SimpleUploadedFile(name, data, content_type="text/csv"),
        },
    )


def _pending_files() -> list[str]:
    try:
        return default_storage.listdir(PENDING_DIR)[1]
    except FileNotFoundError:
        return []


def _nothing_written() -> bool:
    return not (
        Run.objects.exists()
        or RunRecord.objects.exists()
        or DeadLetter.objects.exists()
        or _pending_files()
    )


def test_upload_shows_the_dry_run_and_writes_nothing_to_the_pipeline(client, admin_user, workflow):
    client.force_login(admin_user)
    rows = [*GOOD_ROWS, BAD_ROW, GOOD_ROWS[0]]  # one invalid, one duplicate in the file
    data = csv_bytes(
        rows, headers=["Work Email", "First Name", "Last Name", "Company Name", "Job Title"]
    )

    response = _upload(client, workflow, data)

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["preview"].records_in == 4
    assert (
        response.context["preview"].would_create,
        response.context["preview"].invalid,
        response.context["preview"].duplicate_in_file,
    ) == (2, 1, 1)
    assert "Work Email" in page
    assert "(alias)" in page
    assert [error["row"] for error in response.context["preview"].errors] == [
        4
    ]  # line 4 of the file
    assert 'id="import-errors"' in page
    assert not Run.objects.exists()
    assert not RunRecord.objects.exists()
    assert AuditEvent.objects.filter(action="import.uploaded", actor_id=admin_user.pk).exists()


def test_unknown_and_missing_optional_columns_are_warned_about(client, admin_user, workflow):
    client.force_login(admin_user)
    data = csv_bytes(
        [["ada@acme-analytics.com", "Ada", "91"]], headers=["Email", "First Name", "Clay Score"]
    )

    page = _upload(client, workflow, data).content.decode()

    assert "Not mapped (kept with each record, not sent): Clay Score" in page
    assert "Mapped but not in the file" in page
    assert "Last Name" in page


@pytest.mark.parametrize(
    ("encoding", "delimiter", "shown"),
    [
        ("utf-8-sig", ";", "utf-8-sig"),
        ("cp1252", ",", "cp1252"),
        ("utf-8", "\t", "utf-8"),
    ],
)
def test_encoding_and_delimiter_are_detected(
    client, admin_user, workflow, encoding, delimiter, shown
):
    client.force_login(admin_user)
    data = csv_bytes(
        [["zoe@cafe-mueller.de", "Zoë", "Öztürk", "Müller GmbH", "CEO"]],
        delimiter=delimiter,
        encoding="utf-8" if encoding == "utf-8-sig" else encoding,
    )
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data

    response = _upload(client, workflow, data)

    assert response.context["preview"].encoding == shown
    assert response.context["preview"].delimiter == delimiter
    assert "Zoë" in response.content.decode()  # accents read with the right encoding


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\nxxxx", "photo.csv", "This is not a CSV file: it is an image"),
        (b"PK\x03\x04rest-of-a-zip", "export.xlsx", "it is a ZIP archive (an Excel .xlsx file?)"),
        (b"ada@acme-analytics.com,Ada,Lovelace\n", "noheader.csv", "The file has no header row"),
        (b"", "empty.csv", "The submitted file is empty."),  # refused by the form itself
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_its_reason_and_nothing_is_written(
    client,
    admin_user,
    workflow,
    data,
    name,
    message,
):
    client.force_login(admin_user)

    response = _upload(client, workflow, data, name)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert _nothing_written()
    assert AuditEvent.objects.filter(action="import.refused").count() == (0 if not data else 1)


def test_confirm_starts_the_run_on_celery_and_shows_it(
    client, admin_user, workflow, sandbox, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    preview = _upload(client, workflow, csv_bytes([*GOOD_ROWS, BAD_ROW]))
    token = preview.context["confirm_form"].initial["token"]

    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        response = client.post(reverse("switchyard:import-start"), {"token": token})

    run = Run.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("switchyard:run", args=[run.pk])
    assert len(dispatched) == 1  # run_prepare_task.delay, once the run is committed
    assert (run.triggered_by, run.input_filename, run.status) == (
        admin_user,
        "contacts.csv",
        RunStatus.PENDING,
    )
    assert _pending_files() == []  # the kept upload moved to the run
    progress = client.get(reverse("switchyard:run-progress", args=[run.pk])).json()
    assert (progress["finished"], progress["percent"]) == (False, 0)

    run_execute_inline(run_id=run.pk, honour_backoff=False)  # what the worker does

    progress = client.get(reverse("switchyard:run-progress", args=[run.pk])).json()
    assert (
        progress["finished"],
        progress["percent"],
        progress["succeeded"],
        progress["dead_lettered"],
    ) == (True, 100, 2, 1)
    page = client.get(reverse("switchyard:run", args=[run.pk])).content.decode()
    assert 'data-status="partial"' in page
    assert 'id="run-progress"' not in page


def test_a_confirmation_cannot_be_replayed(
    client, admin_user, workflow, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    token = _upload(client, workflow, csv_bytes(GOOD_ROWS)).context["confirm_form"].initial["token"]
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("switchyard:import-start"), {"token": token})

    again = client.post(reverse("switchyard:import-start"), {"token": token})

    assert again.status_code == 400
    assert "expired or was already imported" in again.content.decode()
    assert Run.objects.count() == 1


def test_cancel_discards_the_kept_upload(client, admin_user, workflow):
    client.force_login(admin_user)
    token = _upload(client, workflow, csv_bytes(GOOD_ROWS)).context["confirm_form"].initial["token"]

    response = client.post(reverse("switchyard:import-start"), {"token": token, "cancel": "Cancel"})

    assert response.status_code == 302
    assert _nothing_written()
