"""Run history: status badges and counts, a run's steps and file, and every record traced from
its source row to its HubSpot id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from pipelines.models import RecordState

pytestmark = pytest.mark.django_db


def test_the_run_list_shows_trigger_who_counts_status_and_duration(client, viewer, finished_run):
    client.force_login(viewer)

    page = client.get(reverse("switchyard:runs")).content.decode()

    assert 'data-status="partial"' in page
    assert "CSV import" in page
    assert ">test<" in page
    assert f"{finished_run.duration_ms} ms" in page


def test_the_run_list_filters_by_status(client, viewer, finished_run):
    client.force_login(viewer)

    assert list(client.get(reverse("switchyard:runs") + "?status=partial").context["page"]) == [
        finished_run
    ]
    assert list(client.get(reverse("switchyard:runs") + "?status=failure").context["page"]) == []


def test_a_run_shows_its_steps_file_dead_letters_and_records(
    client, admin_user, finished_run, dead_letter
):
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:run", args=[finished_run.pk])).content.decode()

    assert 'id="run-timings"' in page
    assert "transform" in page
    assert "load" in page
    assert reverse("switchyard:run-input-file", args=[finished_run.pk]) in page
    assert reverse("switchyard:dead-letter", args=[dead_letter.pk]) in page
    assert page.count("lineage</a>") == 3


def test_a_record_is_traced_from_its_row_to_its_hubspot_id(client, viewer, finished_run):
    record = finished_run.records.get(state=RecordState.LOADED, row_number=2)
    client.force_login(viewer)

    page = client.get(
        reverse("switchyard:run-record", args=[finished_run.pk, record.pk])
    ).content.decode()

    assert "row 2 of contacts.csv" in page
    assert "Ada" in page
    assert "ada@acme-analytics.com" in page
    assert f'id="record-hubspot-id">{record.hubspot_id}<' in page


def test_downloading_the_input_file_is_audited_and_hidden_from_the_viewer(
    client, admin_user, viewer, finished_run
):
    client.force_login(admin_user)
    response = client.get(reverse("switchyard:run-input-file", args=[finished_run.pk]))

    assert b"ada@acme-analytics.com" in b"".join(response.streaming_content)
    assert response["Content-Disposition"].startswith('attachment; filename="contacts.csv"')
    assert (
        AuditEvent.objects.filter(
            action="run.input_file_downloaded", actor_id=admin_user.pk
        ).count()
        == 1
    )

    client.force_login(viewer)
    page = client.get(reverse("switchyard:run", args=[finished_run.pk])).content.decode()
    assert 'id="run-input-file"' not in page


def test_an_unfinished_run_shows_a_progress_bar_that_polls(client, admin_user, workflow):
    import io

    from pipelines.services.staging import run_create_csv
    from tests.screens.conftest import GOOD_ROWS, csv_bytes

    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(GOOD_ROWS)),
        filename="c.csv",
        actor_label="test",
        dispatch=False,
    )
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:run", args=[run.pk])).content.decode()

    assert 'id="run-progress"' in page
    assert "run_progress.js" in page
    assert reverse("switchyard:run-progress", args=[run.pk]) in page
