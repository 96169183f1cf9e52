"""The queue a person can work through: one open letter per person and workflow (a newer
failure supersedes, a later success resolves), one category vocabulary, HubSpot's errors as
sentences, letters grouped by reason with the fix, and the value that failed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.dead_letter_reasons import (
    CATEGORIES,
    category_normalize,
    error_sentences,
    failed_values,
    identity_of,
    reason_of,
)
from pipelines.models import DeadLetter, DeadLetterResolution
from pipelines.screens.selectors import DeadLetterFilters, dead_letter_groups, dead_letter_list
from tests.pipelines.conftest import contact_rows, import_rows

pytestmark = pytest.mark.django_db

HUBSPOT_400 = (
    'Property values were not valid: [{"isValid": false, "message": "Email address '
    'zo\\u00eb@x.io is invalid", "error": "INVALID_EMAIL", "name": "email"}]'
)


def _rows(**bad):
    return contact_rows(2) + [contact_rows(1, start=2, **bad)[0]]


def test_reimporting_the_same_bad_row_keeps_one_open_letter(workflow, sandbox):
    first = import_rows(workflow, _rows(Email="dana(at)acme.com"))
    second = import_rows(workflow, _rows(Email="dana(at)acme.com"))
    third = import_rows(workflow, _rows(Email="dana(at)acme.com"))

    open_letters = DeadLetter.objects.filter(resolution="")
    assert list(open_letters.values_list("run_id", flat=True)) == [third.pk]
    assert open_letters.get().identity == "dana(at)acme.com"
    first_letter, second_letter = DeadLetter.objects.filter(run__in=[first, second]).order_by("id")
    newest = open_letters.get()
    assert (first_letter.resolution, first_letter.resolved_in_run_id) == (
        DeadLetterResolution.SUPERSEDED,
        second.pk,
    )
    assert first_letter.resolution_note == f"superseded by dead letter {second_letter.pk}"
    assert (second_letter.resolution, second_letter.resolved_in_run_id) == (
        DeadLetterResolution.SUPERSEDED,
        third.pk,
    )
    assert second_letter.resolution_note == f"superseded by dead letter {newest.pk}"


def test_a_later_success_resolves_older_letters_of_the_same_person(workflow, sandbox):
    import_rows(workflow, _rows(Phone="12"))
    letter = DeadLetter.objects.get()
    assert letter.identity == "person2@acme-analytics.com"

    later = import_rows(workflow, contact_rows(3))  # the phone was fixed at the source

    letter.refresh_from_db()
    assert (letter.resolution, letter.resolved_in_run) == (DeadLetterResolution.SYNCED, later)
    assert not DeadLetter.objects.filter(resolution="").exists()


def test_letters_of_another_workflow_are_left_alone(workflow, sandbox):
    from tests.pipelines.factories import WorkflowFactory

    other = WorkflowFactory()
    import_rows(other, _rows(Phone="12"))
    import_rows(workflow, contact_rows(3))

    assert DeadLetter.objects.get().resolution == ""


def test_every_category_is_one_of_the_vocabulary():
    assert category_normalize("VALIDATION_ERROR", stage="load") == "rejected"
    assert category_normalize("INVALID_EMAIL", stage="load") == "rejected"
    assert category_normalize("validation", stage="transform") == "validation"
    assert category_normalize("MISSING_SCOPES", stage="load") == "missing_scope"
    assert category_normalize("timed_out", stage="load") == "retries_exhausted"
    assert category_normalize("retries_exhausted", stage="load") == "retries_exhausted"
    assert set(CATEGORIES) >= {"validation", "rejected", "missing_scope", "retries_exhausted"}


def test_hubspot_errors_read_as_sentences_with_their_characters():
    assert error_sentences([HUBSPOT_400]) == ["email: Email address zoë@x.io is invalid"]
    assert error_sentences(
        ["HubSpot POST -> 403 MISSING_SCOPES: needs crm.objects.contacts.write"]
    ) == ["The HubSpot app lacks the permission (scope) crm.objects.contacts.write."]
    assert error_sentences(["Email → email: required, but is empty"]) == [
        "Email → email: required, but is empty"
    ]


def test_the_reason_leaves_the_records_values_out():
    one = reason_of(category="rejected", errors=error_sentences([HUBSPOT_400]))
    other = reason_of(category="rejected", errors=["email: Email address al@y.io is invalid"])
    assert one == other == "email: Email address … is invalid"
    assert (
        reason_of(
            category="validation",
            errors=["Phone → phone: not a valid phone number for +44: too short"],
        )
        == "Phone → phone: not a valid phone number"
    )


def test_identity_falls_back_to_the_source_value_then_a_row_key():
    errors = [{"source": "Email", "target": "email", "message": "not valid"}]
    raw = {"Work Email": " Alan(at)Initech.de ", "Name": "Alan"}
    assert (
        identity_of(
            match_key="", match_on="email", errors=errors, raw=raw, columns={"Email": "Work Email"}
        )
        == "alan(at)initech.de"
    )
    assert identity_of(match_key="a@b.io", match_on="email", errors=errors, raw=raw) == "a@b.io"
    row_key = identity_of(match_key="", match_on="email", errors=[], raw={"Name": "Alan"})
    assert row_key.startswith("row:")
    assert row_key == identity_of(match_key="", match_on="email", errors=[], raw={"Name": "Alan"})


def test_failed_values_come_from_the_source_row():
    errors = [{"source": "Phone", "target": "phone", "message": "too short"}]
    assert failed_values(
        errors=errors, raw={"Phone Number": "12"}, columns={"Phone": "Phone Number"}
    ) == {"phone": {"value": "12", "message": "too short"}}


def test_groups_count_open_letters_by_reason_and_search_finds_email_and_error(workflow, sandbox):
    import_rows(
        workflow,
        contact_rows(1)
        + contact_rows(1, start=1, Email="a(at)x.io")
        + contact_rows(1, start=2, Email="b(at)x.io")
        + contact_rows(1, start=3, Phone="12"),
    )

    groups = dead_letter_groups(filters=DeadLetterFilters())
    assert [(g["label"], g["reason"], g["count"]) for g in groups] == [
        ("Invalid in the source", "Email → email: not a valid email address", 2),
        ("Invalid in the source", "Phone → phone: not a valid phone number", 1),
    ]
    assert "Correct the email" in groups[0]["fix"]
    found = dead_letter_list(filters=DeadLetterFilters(search="b(at)"))
    assert [d.identity for d in found] == ["b(at)x.io"]
    assert dead_letter_list(filters=DeadLetterFilters(search="phone number")).count() == 1
    reason = groups[0]["reason"]
    assert dead_letter_list(filters=DeadLetterFilters(reason=reason)).count() == 2


def test_the_detail_page_shows_the_value_that_failed(client, admin_user, workflow, sandbox):
    import_rows(workflow, contact_rows(1, Phone="12"))
    letter = DeadLetter.objects.get()
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:dead-letter", args=[letter.pk])).content.decode()

    assert "Failed value: “12”" in page
    assert 'data-failed-value="12"' in page
