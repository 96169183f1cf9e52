"""Dead-letter review: fix and reprocess (one, a selection, a category), ignore with a
reason, export escaped CSV, and every letter says how it was resolved."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from pipelines.models import DeadLetter, DeadLetterResolution, Run, RunStatus, RunTrigger
from pipelines.services.runs import run_execute_inline

pytestmark = pytest.mark.django_db


def test_editing_and_reprocessing_starts_a_run_linked_to_the_old_one(
    client, admin_user, dead_letter, sandbox
):
    client.force_login(admin_user)
    old_run = dead_letter.run

    response = client.post(
        reverse("switchyard:dead-letter", args=[dead_letter.pk]),
        {"action": "reprocess", "p_email": "alan@initech.de", "p_firstname": "Alan"},
    )

    dead_letter.refresh_from_db()
    new_run = Run.objects.get(trigger=RunTrigger.REPROCESS)
    assert response.status_code == 302
    assert response.url == reverse("switchyard:run", args=[new_run.pk])
    assert new_run.parent == old_run
    assert new_run.triggered_by == admin_user
    assert (dead_letter.resolution, dead_letter.resolved_in_run) == (
        DeadLetterResolution.REPROCESSED,
        new_run,
    )
    assert dead_letter.original_payload is not None
    assert dead_letter.payload["email"] == "alan@initech.de"

    run_execute_inline(run_id=new_run.pk, honour_backoff=False)

    new_run.refresh_from_db()
    assert (new_run.status, new_run.succeeded) == (RunStatus.SUCCESS, 1)
    assert "alan@initech.de" in [c["properties"]["email"] for c in sandbox.objects("contacts")]
    page = client.get(reverse("switchyard:run", args=[old_run.pk])).content.decode()
    assert (
        f'href="{reverse("switchyard:run", args=[new_run.pk])}"' in page
    )  # old run links its child
    assert (
        "reprocessed"
        in client.get(reverse("switchyard:dead-letter", args=[dead_letter.pk])).content.decode()
    )


def test_the_edit_form_offers_every_mapped_property_prefilled_with_the_payload(
    client, admin_user, dead_letter
):
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:dead-letter", args=[dead_letter.pk])).content.decode()

    assert 'name="p_email" value="not-an-email"' in page
    assert "phone" not in dead_letter.payload
    assert 'name="p_phone"' in page
    assert dead_letter.errors[0].split(": ")[0] in page  # the error, beside the form


def test_saving_only_keeps_the_original_payload_and_does_not_reprocess(
    client, admin_user, dead_letter
):
    client.force_login(admin_user)

    client.post(
        reverse("switchyard:dead-letter", args=[dead_letter.pk]),
        {"action": "save", "p_email": "x@initech.de"},
    )

    dead_letter.refresh_from_db()
    assert dead_letter.payload["email"] == "x@initech.de"
    assert dead_letter.resolution == ""
    assert not Run.objects.filter(trigger=RunTrigger.REPROCESS).exists()
    assert AuditEvent.objects.filter(action="dead_letter.edited").count() == 1


def test_reprocessing_a_selection_starts_one_run_for_them(client, admin_user, dead_letter):
    client.force_login(admin_user)

    response = client.post(
        reverse("switchyard:dead-letters"), {"action": "reprocess", "ids": [dead_letter.pk]}
    )

    run = Run.objects.get(trigger=RunTrigger.REPROCESS)
    assert response.url == reverse("switchyard:run", args=[run.pk])
    assert DeadLetter.objects.get(pk=dead_letter.pk).resolved_in_run == run


def test_reprocessing_all_of_a_category_takes_only_open_letters_of_that_category(
    client, admin_user, dead_letter
):
    other = DeadLetter.objects.create(
        run=dead_letter.run,
        record=dead_letter.run.records.exclude(pk=dead_letter.record_id).first(),
        workflow=dead_letter.workflow,
        stage="load",
        category="retries_exhausted",
        errors=["HubSpot timed out"],
        payload={"email": "ada@acme-analytics.com"},
    )
    client.force_login(admin_user)

    client.post(
        reverse("switchyard:dead-letters") + "?category=validation", {"action": "reprocess_all"}
    )

    run = Run.objects.get(trigger=RunTrigger.REPROCESS)
    assert list(run.resolved_dead_letters.values_list("pk", flat=True)) == [dead_letter.pk]
    other.refresh_from_db()
    assert other.resolution == ""


def test_ignoring_needs_a_reason_and_records_it(client, admin_user, dead_letter):
    client.force_login(admin_user)
    url = reverse("switchyard:dead-letter", args=[dead_letter.pk])

    refused = client.post(url, {"action": "ignore", "reason": ""})
    client.post(url, {"action": "ignore", "reason": "test contact from a demo"})

    dead_letter.refresh_from_db()
    assert refused.status_code == 200
    assert "This field is required" in refused.content.decode()
    assert (dead_letter.resolution, dead_letter.resolution_note) == (
        DeadLetterResolution.IGNORED,
        "test contact from a demo",
    )
    assert (
        AuditEvent.objects.filter(action="dead_letter.ignored", actor_id=admin_user.pk).count() == 1
    )


def test_a_resolved_letter_cannot_be_edited_again(client, admin_user, dead_letter):
    client.force_login(admin_user)
    url = reverse("switchyard:dead-letter", args=[dead_letter.pk])
    client.post(url, {"action": "ignore", "reason": "spam"})

    response = client.post(url, {"action": "save", "p_email": "x@initech.de"})

    assert response.status_code == 400
    assert "already ignored" in response.content.decode()


def test_filters_narrow_the_queue_by_workflow_run_category_and_date(client, viewer, dead_letter):
    client.force_login(viewer)
    base = reverse("switchyard:dead-letters")
    today = timezone.localdate()

    def ids(query: str) -> list[int]:
        return [d.pk for d in client.get(f"{base}?{query}").context["page"]]

    assert ids(
        f"workflow={dead_letter.workflow_id}&run={dead_letter.run_id}&category=validation"
    ) == [dead_letter.pk]
    assert ids("category=retries_exhausted") == []
    assert ids(f"created_from={today}&created_to={today}") == [dead_letter.pk]
    assert ids(f"created_from={today + timedelta(days=1)}") == []
    assert ids("status=resolved") == []


def test_export_escapes_formula_cells_and_is_audited(client, admin_user, dead_letter):
    record = dead_letter.record
    record.event_id = '=HYPERLINK("http://evil.example","click")'
    record.save(update_fields=["event_id"])
    DeadLetter.objects.filter(pk=dead_letter.pk).update(errors=["@SUM(1+1)*cmd|' /C calc'!A0"])
    client.force_login(admin_user)

    response = client.get(reverse("switchyard:dead-letters-export") + "?category=validation")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [row["id"] for row in rows] == [str(dead_letter.pk)]
    assert rows[0]["event_id"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[0]["errors"].startswith("'@SUM")
    event = AuditEvent.objects.get(action="dead_letter.exported")
    assert event.actor_id == admin_user.pk
    assert event.metadata["count"] == 1


def test_export_is_refused_to_the_viewer_and_nothing_is_recorded_as_exported(
    client, viewer, dead_letter
):
    client.force_login(viewer)

    response = client.get(reverse("switchyard:dead-letters-export"))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="dead_letter.exported").exists()
