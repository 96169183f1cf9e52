"""The dead-letter queue: fix and reprocess (a new linked run), ignore, export safely."""

from __future__ import annotations

import csv
import io

import pytest

from audit.models import AuditEvent
from pipelines.models import DeadLetter, DeadLetterResolution, Run, RunTrigger
from pipelines.services.dead_letters import (
    dead_letter_edit,
    dead_letter_ignore,
    dead_letter_reprocess,
    dead_letters_export_csv,
)
from pipelines.services.runs import run_execute_inline
from tests.pipelines.conftest import assert_invariant, contact_rows, import_rows, sandbox_emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_run(workflow, sandbox):
    rows = contact_rows(3) + [
        {**contact_rows(1, start=3)[0], "Email": "dana(at)acme-analytics.com"},
        {**contact_rows(1, start=4)[0], "Phone": "12"},
    ]
    return import_rows(workflow, rows)


def test_edit_then_reprocess_starts_a_linked_run_and_resolves_the_letters(
    failed_run, admin_user, sandbox
):
    letters = list(DeadLetter.objects.filter(run=failed_run).order_by("record__row_number"))
    assert [d.category for d in letters] == ["validation", "validation"]
    bad_email, bad_phone = letters

    dead_letter_edit(
        dead_letter_id=bad_email.pk,
        payload={**bad_email.payload, "email": "Dana@Acme-Analytics.com "},
        actor=admin_user,
    )
    new_run = dead_letter_reprocess(
        dead_letter_ids=[bad_email.pk, bad_phone.pk],
        actor=admin_user,
        dispatch=False,
        payload_overrides={bad_phone.pk: {**bad_phone.payload, "phone": "+44 20 7946 0958"}},
    )
    new_run = run_execute_inline(run_id=new_run.pk, honour_backoff=False)

    assert_invariant(new_run)
    assert (new_run.trigger, new_run.parent, new_run.triggered_by) == (
        RunTrigger.REPROCESS,
        failed_run,
        admin_user,
    )
    assert (new_run.records_in, new_run.succeeded) == (2, 2)
    for letter in (bad_email, bad_phone):
        letter.refresh_from_db()
        assert (letter.resolution, letter.resolved_by, letter.resolved_in_run) == (
            DeadLetterResolution.REPROCESSED,
            admin_user,
            new_run,
        )
        assert letter.resolved_at is not None
        assert letter.original_payload is not None
    assert "dana@acme-analytics.com" in sandbox_emails(
        sandbox
    )  # the edit went through the transforms
    record = new_run.records.get(reprocessed_from=bad_phone)
    assert record.values["phone"] == "+442079460958"
    assert record.row_number == bad_phone.record.row_number
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"dead_letter.edited", "dead_letter.reprocessed"} <= actions
    edit_event = AuditEvent.objects.filter(action="dead_letter.edited").first()
    assert "dana" not in str(edit_event.metadata).lower()  # property names only, no values


def test_reprocessing_resolved_letters_again_is_a_no_op(failed_run, admin_user):
    ids = list(DeadLetter.objects.filter(run=failed_run).values_list("pk", flat=True))
    first = dead_letter_reprocess(dead_letter_ids=ids, actor=admin_user, dispatch=False)

    again = dead_letter_reprocess(dead_letter_ids=ids, actor=admin_user, dispatch=False)

    assert again == first
    assert Run.objects.filter(trigger=RunTrigger.REPROCESS).count() == 1


def test_a_reprocessed_letter_that_still_fails_becomes_a_new_dead_letter(failed_run, admin_user):
    letter = DeadLetter.objects.filter(run=failed_run).first()

    new_run = run_execute_inline(
        run_id=dead_letter_reprocess(
            dead_letter_ids=[letter.pk], actor=admin_user, dispatch=False
        ).pk,
        honour_backoff=False,
    )

    assert_invariant(new_run)
    assert (new_run.dead_lettered, new_run.status) == (1, "failure")
    assert DeadLetter.objects.filter(run=new_run, resolution="").count() == 1


def test_ignore_resolves_with_a_reason_and_cannot_be_edited_after(failed_run, admin_user):
    ids = list(DeadLetter.objects.filter(run=failed_run).values_list("pk", flat=True))

    assert dead_letter_ignore(dead_letter_ids=ids, reason="test contacts", actor=admin_user) == 2
    assert dead_letter_ignore(dead_letter_ids=ids, reason="again", actor=admin_user) == 0

    letter = DeadLetter.objects.get(pk=ids[0])
    assert (letter.resolution, letter.resolution_note, letter.resolved_by) == (
        "ignored",
        "test contacts",
        admin_user,
    )
    with pytest.raises(ValueError, match="already ignored"):
        dead_letter_edit(dead_letter_id=ids[0], payload={}, actor=admin_user)
    assert AuditEvent.objects.filter(action="dead_letter.ignored").count() == 1


def test_ignore_needs_a_reason(failed_run, admin_user):
    with pytest.raises(ValueError, match="why"):
        dead_letter_ignore(dead_letter_ids=[1], reason=" ", actor=admin_user)


def test_export_escapes_cells_that_a_spreadsheet_would_run_as_formulas(workflow, sandbox):
    rows = [
        {
            **contact_rows(1)[0],
            "Email": '=HYPERLINK("http://evil")',
            "First Name": "+cmd",
            "Last Name": "@SUM(A1)",
        }
    ]
    run = import_rows(workflow, rows)
    letter = run.dead_letters.get()
    letter.category = "-danger"
    letter.save()

    lines = list(dead_letters_export_csv(queryset=DeadLetter.objects.all()))

    parsed = list(csv.reader(io.StringIO("".join(lines))))
    header, row = parsed[0], parsed[1]
    assert header[0] == "id"
    assert len(parsed) == 2
    assert row[header.index("category")] == "'-danger"
    assert row[header.index("errors")].startswith("'=") or row[header.index("errors")].startswith(
        "Email"
    )
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
