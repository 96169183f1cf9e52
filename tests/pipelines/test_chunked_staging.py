"""A CSV run is planned into chunks that workers stage in parallel. Spec: whatever the
order or the number of times chunks are staged, the run holds each row of the file exactly
once, with its row number; a file that cannot be read is refused with nothing written."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from pipelines import tasks, wakeups
from pipelines.csv_files import csv_detect, csv_rows
from pipelines.models import RecordState, Run, RunChunk, RunRecord, RunStatus
from pipelines.services import chunks
from pipelines.services.chunks import run_chunk_stage, run_chunk_stage_next
from pipelines.services.runs import run_prepare
from pipelines.services.staged_records import json_text
from pipelines.services.staging import csv_run_plan, run_create_csv
from pipelines.services.sweepers import chunks_sweep
from tests.pipelines.conftest import (
    assert_invariant,
    batched_positions,
    contact_rows,
    csv_bytes,
    import_rows,
)


@pytest.fixture
def small_chunks(monkeypatch):
    """Three rows a chunk, so a dozen rows make several."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 3)


def upload(workflow, data: bytes) -> Run:
    return run_create_csv(
        workflow=workflow, file=io.BytesIO(data), filename="contacts.csv", dispatch=False
    )


def tricky_file() -> bytes:
    """CRLF line ends, a BOM, a cell holding line breaks and a quote, and blank lines: the
    things that make a CSV row differ from a line of the file."""
    rows = contact_rows(10)
    rows[1]["Company Name"] = 'Acme "North"\r\nHQ, 2nd floor'
    rows[4]["Job Title"] = "Head of\nRevOps"
    data = csv_bytes(rows).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = data.split(b"\r\n")
    lines.insert(9, b"")  # a blank line between rows 6 and 7
    return b"\xef\xbb\xbf" + b"\r\n".join(lines)


def staged(run: Run) -> list[tuple[int, str, str, str]]:
    return [
        (number, raw["Email"], raw["Company Name"], raw["Job Title"])
        for number, raw in RunRecord.objects.filter(run=run)
        .order_by("position")
        .values_list("row_number", "raw")
    ]


def test_a_file_cut_into_chunks_stages_every_row_once_with_the_row_numbers_of_a_single_read(
    workflow, small_chunks
):
    data = tricky_file()
    run = upload(workflow, data)

    run = run_prepare(run_id=run.pk, dispatch=False)

    fmt = csv_detect(io.BytesIO(data))
    expected = [
        (n, r["Email"], r["Company Name"], r["Job Title"])
        for n, r in csv_rows(io.BytesIO(data), fmt)
    ]
    assert staged(run) == expected
    assert len(expected) == 10
    assert expected[-1][0] == 12  # the blank line is numbered, not staged
    assert RunChunk.objects.filter(run=run).count() == 4  # 10 rows and a blank line, 3 rows a chunk
    assert (expected[1][2], expected[4][3]) == (
        'Acme "North"\r\nHQ, 2nd floor',
        "Head of\r\nRevOps",
    )
    assert run.records_in == 10
    assert run.staged_at is not None
    assert set(run.timings) >= {"plan", "stage", "transform"}


def test_chunks_staged_in_any_order_give_the_records_of_an_inline_run(workflow, small_chunks):
    data = tricky_file()
    inline = run_prepare(run_id=upload(workflow, data).pk, dispatch=False)
    shuffled = upload(workflow, data)
    csv_run_plan(run_id=shuffled.pk)

    for chunk_id in reversed(RunChunk.objects.filter(run=shuffled).values_list("pk", flat=True)):
        run_chunk_stage(chunk_id=chunk_id)
    shuffled = run_prepare(run_id=shuffled.pk, dispatch=False)

    assert staged(shuffled) == staged(inline)
    fields = ("position", "values", "state", "match_key")
    assert list(
        RunRecord.objects.filter(run=shuffled).order_by("position").values_list(*fields)
    ) == list(RunRecord.objects.filter(run=inline).order_by("position").values_list(*fields))


def test_a_chunk_staged_twice_writes_its_records_once(workflow, small_chunks):
    run = upload(workflow, csv_bytes(contact_rows(7)))
    csv_run_plan(run_id=run.pk)
    first = RunChunk.objects.filter(run=run).order_by("sequence").first()

    run_chunk_stage(chunk_id=first.pk)
    run_chunk_stage(chunk_id=first.pk)  # a duplicate task, or one re-sent by the sweeper

    assert RunRecord.objects.filter(run=run).count() == 3
    first.refresh_from_db()
    assert first.records == 3
    assert first.staged_at is not None
    assert Run.objects.get(pk=run.pk).staged_at is None  # two chunks still to go


def test_the_run_is_not_staged_until_its_last_chunk_is(workflow, small_chunks, sandbox):
    run = upload(workflow, csv_bytes(contact_rows(7)))
    csv_run_plan(run_id=run.pk)
    ids = list(RunChunk.objects.filter(run=run).order_by("sequence").values_list("pk", flat=True))

    for chunk_id in ids[:-1]:
        run_chunk_stage(chunk_id=chunk_id)
    assert Run.objects.get(pk=run.pk).staged_at is None
    # Loading overlaps staging: each staged chunk's records are in batches already.
    assert batched_positions(run) == [1, 2, 3, 4, 5, 6]

    run_chunk_stage(chunk_id=ids[-1])
    run = run_prepare(run_id=run.pk, dispatch=False)
    assert run.staged_at is not None
    assert run.prepared_at is not None
    assert run.batches_total == 3
    assert batched_positions(run) == [1, 2, 3, 4, 5, 6, 7]  # every record in exactly one batch


def test_with_dispatch_stagers_are_woken_for_the_run_and_claim_chunks_until_none_is_left(
    workflow,
    small_chunks,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    stagers: list[int] = []
    loaders: list[int] = []
    monkeypatch.setattr(wakeups, "run_stage_wake", lambda *, run_id: stagers.append(run_id) or 1)
    monkeypatch.setattr(
        wakeups, "run_load_wake", lambda *, run_id, countdown=None: loaders.append(run_id) or 1
    )
    run = upload(workflow, csv_bytes(contact_rows(7)))

    with django_capture_on_commit_callbacks(execute=True):
        run_prepare(run_id=run.pk)

    assert RunChunk.objects.filter(run=run).count() == 3
    assert stagers == [run.pk, run.pk]  # PIPELINE_STAGE_TASKS_PER_RUN wake-ups, not one per chunk
    assert not RunRecord.objects.filter(run=run).exists()  # nothing staged in the caller
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_stage_task(run.pk)  # what a worker runs: every free chunk, then prepare
    run.refresh_from_db()
    assert run.records_in == 7
    assert run.prepared_at is not None
    # PIPELINE_LOAD_TASKS_PER_RUN (2) as the first chunk's batches are cut, one for each later
    # chunk (loaders that ran out of work have left), and 2 for the held records at the end.
    assert loaders == [run.pk] * (2 + 1 + 1 + 2)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_stage_task(run.pk)  # the second wake-up finds nothing left to do
    assert RunRecord.objects.filter(run=run).count() == 7
    assert loaders == [run.pk] * 6


def test_a_run_whose_stager_was_lost_is_woken_again_once_its_heartbeat_is_stale(
    workflow,
    small_chunks,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    woken: list[int] = []
    monkeypatch.setattr(wakeups, "run_stage_wake", lambda *, run_id: woken.append(run_id) or 1)
    run = upload(workflow, csv_bytes(contact_rows(7)))
    with django_capture_on_commit_callbacks(execute=True):
        run_prepare(run_id=run.pk)
    woken.clear()
    assert run_chunk_stage_next(run_id=run.pk)  # one chunk staged, then the stager is lost

    with django_capture_on_commit_callbacks(execute=True):
        assert chunks_sweep()["woken"] == 0  # it claimed a chunk just now: still awake
    Run.objects.filter(pk=run.pk).update(worker_seen_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert chunks_sweep()["woken"] == 2
    assert woken == [run.pk, run.pk]
    assert RunChunk.objects.filter(run=run, staged_at__isnull=True).count() == 2


def test_a_file_undecodable_far_down_is_refused_before_any_record_is_written(
    workflow, small_chunks
):
    rows = contact_rows(2000)
    data = csv_bytes(rows)
    assert len(data) > 70_000  # past the 64 KB the upload check reads
    data = data[:-40] + b"\xff\xfe" + data[-38:]
    run = upload(workflow, data)

    run = run_prepare(run_id=run.pk, dispatch=False)

    assert run.status == RunStatus.FAILURE
    assert "not valid utf-8" in run.status_message
    assert "row 2001" in run.status_message
    assert not RunRecord.objects.filter(run=run).exists()
    assert not RunChunk.objects.filter(run=run).exists()


def test_a_chunk_found_unreadable_after_planning_fails_the_run_and_keeps_no_record(
    workflow, small_chunks
):
    run = upload(workflow, csv_bytes(contact_rows(7)))
    csv_run_plan(run_id=run.pk)
    first, second, _third = RunChunk.objects.filter(run=run).order_by("sequence")
    run_chunk_stage(chunk_id=first.pk)
    assert RunRecord.objects.filter(run=run).count() == 3
    # The stored file changes under the run (a bad disk, a manual edit): chunk 2 is garbage.
    path = run.input_file.path
    with open(path, "r+b") as stored:
        stored.seek(second.byte_start)
        stored.write(b"\xff" * 8)

    run_chunk_stage(chunk_id=second.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILURE
    assert "could not be read" in run.status_message
    assert not RunRecord.objects.filter(run=run).exists()
    assert RunChunk.objects.get(pk=second.pk).staged_at is None


def test_a_reused_compiled_mapping_takes_each_rows_country_for_its_phone(
    workflow, small_chunks, sandbox
):
    rows = contact_rows(4)
    rows[0].update({"Country": "United Kingdom", "Phone": "020 7946 0958"})
    rows[1].update(
        {"Country": "", "Phone": "020 7946 0958"}
    )  # no country: no region to read it with
    run = import_rows(workflow, rows)

    phones = list(
        RunRecord.objects.filter(run=run).order_by("position").values_list("values__phone", "state")
    )
    assert phones[0] == ("+442079460958", RecordState.LOADED)
    assert phones[1] == (None, RecordState.DEAD_LETTERED)  # not read as British from row 1
    assert_invariant(run)


def test_json_text_keeps_what_orjson_refuses():
    assert json_text({"score": 12345678901234567890123}) == '{"score": 12345678901234567890123}'
    assert json_text({1: "a"}) == '{"1": "a"}'
    assert json_text({"name": "Zoë", "n": 1}) == '{"name":"Zoë","n":1}'


def test_cells_with_tabs_backslashes_and_line_breaks_are_stored_exactly(workflow):
    """On PostgreSQL records go in as COPY text, where these characters must be escaped."""
    odd = [
        "tab\there",
        "back\\slash \\N \\t",
        "two\r\nlines",
        "\\",
        'quote " and \u2019',
        "Zoë 東京 🚀",
        "\\N",
    ]
    rows = contact_rows(len(odd))
    for row, text in zip(rows, odd, strict=True):
        row["Job Title"] = text
        row["Company Name"] = text
    rows[0]["Note"] = "keep\tme"  # an unmapped column, kept in extras
    for row in rows[1:]:
        row["Note"] = "\\"
    run = run_prepare(run_id=upload(workflow, csv_bytes(rows)).pk, dispatch=False)

    stored = list(
        RunRecord.objects.filter(run=run)
        .order_by("position")
        .values_list("raw", "values", "extras")
    )
    assert [raw["Job Title"] for raw, _, _ in stored] == odd
    assert [values["jobtitle"] for _, values, _ in stored] == [text.strip() for text in odd]
    assert stored[0][2] == {"Note": "keep\tme"}
    assert [raw for raw, _, _ in stored] == [{**row} for row in rows]


def test_progress_counts_the_rows_read_while_the_chunks_are_staged(workflow, small_chunks):
    from pipelines.selectors import run_progress

    run = upload(workflow, csv_bytes(contact_rows(7)))
    assert run_progress(run_id=run.pk)["label"] == "Reading the file…"  # not planned yet
    csv_run_plan(run_id=run.pk)
    run_chunk_stage(chunk_id=RunChunk.objects.get(run=run, sequence=1).pk)

    progress = run_progress(run_id=run.pk)
    assert (progress["label"], progress["percent"], progress["finished"]) == (
        "Reading the file: 3 of 7 rows",
        0,
        False,
    )

    run_prepare(run_id=run.pk, dispatch=False)
    assert run_progress(run_id=run.pk)["label"] == "0 of 7 records"


def test_a_file_with_old_mac_line_ends_is_cut_into_chunks_like_any_other(workflow, small_chunks):
    rows = contact_rows(8)
    rows[2]["Job Title"] = "Head of\rRevOps"  # a lone CR inside a quoted cell stays in it
    data = csv_bytes(rows).replace(b"\r\n", b"\r")
    assert b"\n" not in data

    run = run_prepare(run_id=upload(workflow, data).pk, dispatch=False)

    fmt = csv_detect(io.BytesIO(data))
    expected = [
        (n, r["Email"], r["Company Name"], r["Job Title"])
        for n, r in csv_rows(io.BytesIO(data), fmt)
    ]
    assert staged(run) == expected
    assert expected[2][3] == "Head of\rRevOps"
    assert RunChunk.objects.filter(run=run).count() == 3


def test_a_run_whose_last_chunk_worker_died_before_finishing_it_is_picked_up_by_the_sweeper(
    workflow,
    small_chunks,
    monkeypatch,
):
    prepared: list[int] = []
    monkeypatch.setattr(tasks.run_prepare_task, "delay", prepared.append)
    run = upload(workflow, csv_bytes(contact_rows(5)))
    csv_run_plan(run_id=run.pk)
    for chunk_id in RunChunk.objects.filter(run=run).values_list("pk", flat=True):
        run_chunk_stage(chunk_id=chunk_id)  # …and the worker dies before run_prepare

    chunks_sweep()
    assert prepared == []  # just staged: the task that staged it may still be finishing

    RunChunk.objects.filter(run=run).update(staged_at=timezone.now() - timedelta(minutes=1))
    chunks_sweep()
    assert prepared == [run.pk]
    run = run_prepare(run_id=run.pk, dispatch=False)
    assert run.records_in == 5
    assert run.prepared_at is not None
