"""Reprocessing in bulk builds each record exactly as the import and a single edit did:
columns matched by alias stay matched, and a selection spanning runs says where each record
came from."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.models import DeadLetter, Run, RunTrigger
from pipelines.selectors import run_progress
from pipelines.services.dead_letters import dead_letter_edit, dead_letter_reprocess
from pipelines.services.mappings import field_mapping_version_create
from pipelines.services.runs import run_execute_inline
from tests.factories import UserFactory
from tests.pipelines.conftest import assert_invariant, import_rows
from tests.pipelines.factories import CLAY_RULES

pytestmark = pytest.mark.django_db

ALIAS_HEADERS = {  # what an Apollo export calls the mapping's columns
    "Email": "Work Email",
    "Company Name": "Company",
    "Job Title": "Title",
    "Phone": "Phone Number",
    "Website": "Company Website",
}


def alias_row(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "Work Email": f"person{i}@acme-analytics.com",
        "First Name": f"First{i}",
        "Company": "Acme Analytics",
        "Title": "VP Marketing",
        "Phone Number": "+1 650 253 0000",
        "Company Website": "acme-analytics.com",
    }
    return {**row, **overrides}


def _phone_without_e164(workflow) -> None:
    rules = [
        {**rule, "transforms": ["strip"]} if rule["to"] == "phone" else rule for rule in CLAY_RULES
    ]
    field_mapping_version_create(workflow=workflow, rules=rules, actor_label="test")


def test_bulk_reprocess_of_alias_matched_rows_sends_every_field(workflow, sandbox, admin_user):
    run = import_rows(workflow, [alias_row(1), alias_row(2, **{"Phone Number": "12"})])
    letter = DeadLetter.objects.get(run=run)
    _phone_without_e164(workflow)  # the admin relaxes the phone rule, then reprocesses

    again = dead_letter_reprocess(dead_letter_ids=[letter.pk], actor=admin_user, dispatch=False)
    again = run_execute_inline(run_id=again.pk, honour_backoff=False)

    assert_invariant(again)
    assert (again.succeeded, again.dead_lettered) == (1, 0)
    sent = {c["properties"]["email"]: c["properties"] for c in sandbox.objects("contacts")}
    person = sent["person2@acme-analytics.com"]
    assert person["company"] == "Acme Analytics"
    assert person["jobtitle"] == "VP Marketing"
    assert person["phone"] == "12"
    assert person["website"] == "https://acme-analytics.com"


def test_bulk_and_single_reprocess_build_the_same_record(workflow, sandbox, admin_user):
    run = import_rows(
        workflow,
        [alias_row(1, **{"Phone Number": "12"}), alias_row(2, **{"Phone Number": "12"})],
    )
    single, bulk = DeadLetter.objects.filter(run=run).order_by("record__row_number")
    dead_letter_edit(
        dead_letter_id=single.pk, payload={**single.payload, "phone": "12"}, actor=admin_user
    )
    _phone_without_e164(workflow)

    first = dead_letter_reprocess(dead_letter_ids=[single.pk], actor=admin_user, dispatch=False)
    second = dead_letter_reprocess(dead_letter_ids=[bulk.pk], actor=admin_user, dispatch=False)
    for reprocess in (first, second):
        run_execute_inline(run_id=reprocess.pk, honour_backoff=False)

    edited = first.records.get().values
    plain = second.records.get().values
    assert {k: v for k, v in edited.items() if k not in ("email", "firstname")} == {
        k: v for k, v in plain.items() if k not in ("email", "firstname")
    }
    assert plain["company"] == "Acme Analytics"


def test_a_selection_across_runs_names_every_origin_and_each_record_its_own_row(
    client, workflow, sandbox
):
    admin = UserFactory(is_superuser=True, is_staff=True)
    first = import_rows(workflow, [alias_row(1), alias_row(2, **{"Work Email": "bad(at)x.io"})])
    second = import_rows(
        workflow,
        [alias_row(3), alias_row(4), alias_row(5, **{"Work Email": "worse(at)x.io"})],
    )
    letters = list(DeadLetter.objects.order_by("id"))
    assert [(d.run_id, d.record.row_number) for d in letters] == [(first.pk, 3), (second.pk, 4)]

    run = dead_letter_reprocess(
        dead_letter_ids=[d.pk for d in letters], actor=admin, dispatch=False
    )
    client.force_login(admin)
    waiting = client.get(reverse("switchyard:run", args=[run.pk])).content.decode()
    assert "Waiting for a worker to pick up 2 dead letters to reprocess" in waiting
    assert "being staged" not in waiting
    assert run_progress(run_id=run.pk)["label"].startswith("Waiting for a worker")

    run_execute_inline(run_id=run.pk, honour_backoff=False)
    page = client.get(reverse("switchyard:run", args=[run.pk])).content.decode()
    assert (
        f'dead letters of <a href="/admin/switchyard/runs/{first.pk}/">run {first.pk}</a>, ' in page
    )
    assert f"run {first.pk}</a>, row 3" in page
    assert f"run {second.pk}</a>, row 4" in page
    listing = client.get(reverse("switchyard:runs")).content.decode()
    assert f"of runs {first.pk}, {second.pk}" in listing
    record = Run.objects.get(pk=run.pk).records.order_by("position").last()
    lineage = client.get(reverse("switchyard:run-record", args=[run.pk, record.pk]))
    assert f"row 4 of run {second.pk}" in lineage.content.decode()
    assert run.trigger == RunTrigger.REPROCESS
