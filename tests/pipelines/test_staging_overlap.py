"""Staging and loading overlap. Spec: a staged chunk's records load while later chunks are
still staging, except those whose match key occurs more than once in the file, which wait for
the whole file and load once, merged; a run is never finished by its early batches; a file
refused after some of it loaded keeps what reached HubSpot and nothing else."""

from __future__ import annotations

import io

import pytest

from pipelines import wakeups
from pipelines.models import BatchState, RecordState, Run, RunBatch, RunChunk, RunRecord, RunStatus
from pipelines.services import chunks
from pipelines.services.batch_cuts import chunk_duplicate_keys
from pipelines.services.chunks import run_chunk_stage
from pipelines.services.loader import run_load
from pipelines.services.runs import run_prepare
from pipelines.services.staging import csv_run_plan, run_create_csv
from tests.pipelines.conftest import (
    assert_invariant,
    batched_positions,
    contact_rows,
    csv_bytes,
    sandbox_emails,
)
from tests.pipelines.factories import WorkflowFactory


@pytest.fixture
def small_chunks(monkeypatch):
    """Three rows a chunk: rows 2-4, 5-7 and 8 of a seven-row file."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 3)


def planned(workflow, rows) -> tuple[Run, list[int]]:
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(rows)),
        filename="contacts.csv",
        dispatch=False,
    )
    csv_run_plan(run_id=run.pk)
    ids = list(RunChunk.objects.filter(run=run).order_by("sequence").values_list("pk", flat=True))
    return run, ids


def test_duplicate_keys_are_found_across_and_within_chunks():
    rows = [(0, "a@x.com"), (0, "b@x.com"), (0, "b@x.com"), (1, "a@x.com"), (1, ""), (2, "c")]

    assert chunk_duplicate_keys(rows) == {0: ["a@x.com", "b@x.com"], 1: ["a@x.com"]}


def test_a_key_that_occurs_twice_waits_for_the_whole_file_and_loads_once_merged(
    workflow, small_chunks, sandbox
):
    rows = contact_rows(7)
    # Row 7 is row 2's person, spelled as a messy export spells it, with a newer title.
    rows[5].update({"Email": "  PERSON0@Acme-Analytics.COM ", "Job Title": "CRO"})
    run, (first, second, third) = planned(workflow, rows)
    assert RunChunk.objects.get(pk=first).duplicate_keys == ["person0@acme-analytics.com"]
    assert RunChunk.objects.get(pk=second).duplicate_keys == ["person0@acme-analytics.com"]
    assert RunChunk.objects.get(pk=third).duplicate_keys == []

    run_chunk_stage(chunk_id=first)
    run_chunk_stage(chunk_id=second)
    assert batched_positions(run) == [2, 3, 4, 5]  # positions 1 and 6 (person0) are held
    early = run_load(run_id=run.pk)

    assert early.batches == 2
    assert not early.finished  # its last early batch did not finish a run still staging
    run.refresh_from_db()
    assert (run.status, run.prepared_at, run.finished_at) == (RunStatus.RUNNING, None, None)
    assert sorted(sandbox_emails(sandbox)) == [
        f"person{i}@acme-analytics.com" for i in (1, 2, 3, 4)
    ]

    run_chunk_stage(chunk_id=third)
    run_prepare(run_id=run.pk, dispatch=False)
    assert batched_positions(run) == [2, 3, 4, 5, 7, 6]  # chunk 3's, then the merged survivor
    assert run_load(run_id=run.pk).finished

    assert_invariant(run)
    assert (run.succeeded, run.skipped) == (6, 1)  # row 2 merged into row 7
    emails = sandbox_emails(sandbox)
    assert sorted(emails) == sorted(set(emails))
    assert len(emails) == 6
    person0 = next(
        c for c in sandbox.objects("contacts") if c["properties"]["email"].startswith("person0@")
    )
    assert person0["properties"]["jobtitle"] == "CRO"


def test_a_run_all_of_whose_records_loaded_while_staging_finishes_when_it_is_prepared(
    workflow, small_chunks, sandbox
):
    run, ids = planned(workflow, contact_rows(7))
    for chunk_id in ids:
        run_chunk_stage(chunk_id=chunk_id)
        run_load(run_id=run.pk)
    assert not Run.objects.get(pk=run.pk).is_finished

    run = run_prepare(run_id=run.pk, dispatch=False)

    assert_invariant(run)
    assert run.succeeded == 7
    assert len(sandbox_emails(sandbox)) == 7


def test_a_file_refused_after_part_of_it_loaded_keeps_what_reached_hubspot_and_nothing_else(
    workflow, small_chunks, sandbox
):
    run, (first, second, _third) = planned(workflow, contact_rows(7))
    run_chunk_stage(chunk_id=first)
    run_load(run_id=run.pk)  # rows 2-4 are in HubSpot
    # The stored file changes under the run (a bad disk, a manual edit): chunk 2 is garbage.
    chunk = RunChunk.objects.get(pk=second)
    with open(run.input_file.path, "r+b") as stored:
        stored.seek(chunk.byte_start)
        stored.write(b"\xff" * 8)

    run_chunk_stage(chunk_id=second)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILURE
    assert set(RunRecord.objects.filter(run=run).values_list("state", flat=True)) == {
        RecordState.LOADED
    }
    assert RunRecord.objects.filter(run=run).count() == 3 == len(sandbox_emails(sandbox))
    assert not RunBatch.objects.filter(run=run, state=BatchState.PENDING).exists()


def test_a_file_staged_in_the_callers_process_wakes_no_worker_to_load_it(
    workflow, small_chunks, monkeypatch, django_capture_on_commit_callbacks
):
    # import_csv --inline and the demo seed stage and load in their own process.
    loaders: list[int] = []
    monkeypatch.setattr(
        wakeups, "run_load_wake", lambda *, run_id, countdown=None: loaders.append(run_id) or 1
    )
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(7))),
        filename="contacts.csv",
        dispatch=False,
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = run_prepare(run_id=run.pk, dispatch=False)

    assert loaders == []
    assert batched_positions(run) == [1, 2, 3, 4, 5, 6, 7]


def test_the_plan_reads_a_rows_country_for_a_phone_match_key_as_staging_does(
    db, small_chunks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    workflow = WorkflowFactory(match_on="phone")
    rows = contact_rows(7, Country="United Kingdom", Phone="+44 20 7946 0000")
    rows[0]["Phone"] = "020 7946 0958"  # national format: the country gives its region
    rows[5]["Phone"] = "+44 20 7946 0958"
    for n in (1, 2, 3, 4, 6):
        rows[n]["Phone"] = f"+44 20 7946 010{n}"

    run, (first, second, third) = planned(workflow, rows)

    assert RunChunk.objects.get(pk=first).duplicate_keys == ["+442079460958"]
    assert RunChunk.objects.get(pk=second).duplicate_keys == ["+442079460958"]
    assert RunChunk.objects.get(pk=third).duplicate_keys == []
