"""CSV intake: encodings, delimiters, refusals that write nothing, the dry-run preview and
the import_csv command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from pipelines.csv_files import CsvRefused
from pipelines.models import RecordState, Run, RunRecord
from pipelines.services.preview import run_preview_csv
from pipelines.services.staging import csv_inspect, run_create_csv
from tests.pipelines.conftest import (
    HEADERS,
    SAMPLE_CSV,
    assert_invariant,
    contact_rows,
    csv_bytes,
    import_rows,
)

pytestmark = pytest.mark.django_db


def _nothing_written() -> None:
    assert not Run.objects.exists()
    assert not RunRecord.objects.exists()
    assert not AuditEvent.objects.filter(action="run.started").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-an-xlsx", "ZIP archive"),
        (b"%PDF-1.7\n%binary", "PDF"),
        (b"\x00\x01\x02binary\x00", "binary data"),
        (b"", "empty"),
        (b"jane@acme.com,Jane,Doe\nbob@acme.com,Bob,Roe\n", "no header row"),
        (b"First Name,Last Name\nJane,Doe\n", "lacks required column(s): Email"),
    ],
    ids=["xlsx", "pdf", "binary", "empty", "no-header", "missing-required-column"],
)
def test_a_file_that_cannot_be_imported_is_refused_with_a_reason_and_nothing_is_written(
    workflow, data, message
):
    with pytest.raises(CsvRefused) as refused:
        run_create_csv(
            workflow=workflow, file=io.BytesIO(data), filename="upload.csv", dispatch=False
        )

    assert message in refused.value.message
    _nothing_written()


def test_utf8_with_bom_and_crlf_is_read_with_accents_intact(workflow, sandbox):
    rows = contact_rows(2, **{"First Name": "Zoë", "Company Name": "Société Générale"})
    data = b"\xef\xbb\xbf" + csv_bytes(rows).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    run = import_rows(workflow, data=data)

    assert_invariant(run)
    assert run.file_encoding == "utf-8-sig"
    assert run.succeeded == 2
    record = RunRecord.objects.filter(run=run).first()
    assert record.values["firstname"] == "Zoë"
    assert "Email" in record.raw


def test_cp1252_export_from_excel_is_detected(workflow, sandbox):
    rows = contact_rows(3, **{"Last Name": "Müller", "Company Name": "Café Crème"})

    run = import_rows(workflow, data=csv_bytes(rows, encoding="cp1252"))

    assert_invariant(run)
    assert run.file_encoding == "cp1252"
    assert RunRecord.objects.filter(run=run).first().values["lastname"] == "Müller"


@pytest.mark.parametrize("delimiter", [";", "\t", ","], ids=["semicolon", "tab", "comma"])
def test_the_delimiter_is_detected(workflow, sandbox, delimiter):
    run = import_rows(workflow, data=csv_bytes(contact_rows(5), delimiter=delimiter))

    assert_invariant(run)
    assert (run.file_delimiter, run.succeeded) == (delimiter, 5)


def test_columns_are_matched_through_aliases_and_unknown_columns_are_kept(workflow):
    headers = ["Work Email", "First Name", "Company", "Apollo Custom 2656"]
    data = csv_bytes(
        [
            {
                "Work Email": "a@acme-analytics.com",
                "First Name": "A",
                "Company": "Acme",
                "Apollo Custom 2656": "x",
            }
        ],
        headers=headers,
    )

    inspection = csv_inspect(workflow=workflow, file=io.BytesIO(data))

    assert inspection.columns.matched["Email"] == "Work Email"
    assert inspection.columns.matched["Company Name"] == "Company"
    assert any("Apollo Custom 2656" in w for w in inspection.warnings)
    assert any("Job Title" in w for w in inspection.warnings)  # mapped, missing from the file


def test_the_uploaded_file_is_kept_with_the_run_for_lineage(workflow, sandbox):
    data = csv_bytes(contact_rows(3))

    run = import_rows(workflow, data=data, filename="march.csv")

    with run.input_file.open("rb") as kept:
        assert kept.read() == data
    assert run.input_filename == "march.csv"
    assert list(RunRecord.objects.filter(run=run).values_list("row_number", flat=True)) == [2, 3, 4]


def test_dry_run_preview_counts_outcomes_and_lists_row_errors_without_writing(workflow, sandbox):
    import_rows(workflow, contact_rows(5))  # known to the sync state: unchanged / update
    rows = (
        contact_rows(4)
        + contact_rows(1, start=4, **{"Job Title": "CEO"})
        + contact_rows(3, start=10)
    )
    rows += [contact_rows(1, start=10)[0], {**contact_rows(1)[0], "Email": "broken"}]
    runs_before = Run.objects.count()

    preview = run_preview_csv(workflow=workflow, file=io.BytesIO(csv_bytes(rows)))

    assert (preview.records_in, preview.unchanged, preview.would_update, preview.would_create) == (
        10,
        4,
        1,
        3,
    )
    assert (preview.duplicate_in_file, preview.invalid) == (1, 1)
    assert preview.errors == [{"row": 11, "messages": [preview.errors[0]["messages"][0]]}]
    assert "email" in preview.errors[0]["messages"][0].lower()
    assert Run.objects.count() == runs_before


def test_dry_run_preview_counts_suppressed_people_apart_and_never_shows_them(workflow, monkeypatch):
    from audit.privacy import suppression_add
    from pipelines.services import preview as preview_module

    rows = contact_rows(1200)  # past one suppression lookup of 1,000 records
    erased = rows[3]["Email"]
    suppression_add(email=erased)
    rows.append({**rows[3], "Job Title": "Again"})
    lookups: list[int] = []
    real = preview_module.emails_suppressed
    monkeypatch.setattr(
        preview_module,
        "emails_suppressed",
        lambda emails: lookups.append(len(emails)) or real(emails),
    )

    preview = run_preview_csv(workflow=workflow, file=io.BytesIO(csv_bytes(rows)), sample_size=5)

    assert (preview.records_in, preview.suppressed, preview.duplicate_in_file) == (1201, 2, 0)
    assert preview.would_create == 1199
    assert erased not in [row["email"] for row in preview.sample]
    assert len(preview.sample) == 5
    assert lookups == [1000, 201]


def test_import_csv_command_inline_with_json_prints_the_run_summary(
    workflow, sandbox, tmp_path, capsys
):
    path = tmp_path / "clay.csv"
    path.write_bytes(SAMPLE_CSV.read_bytes())

    call_command("import_csv", str(path), "--workflow", workflow.slug, "--inline", "--json")

    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {
        "run_id",
        "status",
        "records_in",
        "succeeded",
        "failed",
        "dead_lettered",
        "skipped",
        "duration_ms",
    }
    assert (
        summary["records_in"]
        == summary["succeeded"] + summary["dead_lettered"] + summary["skipped"]
        == 51
    )
    assert Run.objects.get(pk=summary["run_id"]).status == summary["status"] == "partial"


def test_import_csv_wait_without_a_worker_runs_here_and_says_so(
    workflow, sandbox, tmp_path, capsys, monkeypatch
):
    from pipelines.management.commands import import_csv

    monkeypatch.setattr(import_csv, "workers_answering", lambda **_: 0)
    path = tmp_path / "clay.csv"
    path.write_bytes(SAMPLE_CSV.read_bytes())

    call_command("import_csv", str(path), "--workflow", workflow.slug, "--wait", "--json")

    captured = capsys.readouterr()
    assert "No Celery worker answered: running the import in this process" in captured.err
    summary = json.loads(captured.out)
    assert summary["records_in"] == 51
    assert Run.objects.get(pk=summary["run_id"]).is_finished


def test_import_csv_dry_run_writes_nothing(workflow, tmp_path, capsys):
    path = tmp_path / "clay.csv"
    path.write_bytes(SAMPLE_CSV.read_bytes())

    call_command("import_csv", str(path), "--workflow", workflow.slug, "--dry-run", "--json")

    preview = json.loads(capsys.readouterr().out)
    assert (preview["records_in"], preview["invalid"], preview["duplicate_in_file"]) == (51, 3, 1)
    _nothing_written()


def test_import_csv_refuses_a_file_without_the_required_column(workflow, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("First Name\nAda\n")

    with pytest.raises(CommandError, match="lacks required column"):
        call_command("import_csv", str(path), "--workflow", workflow.slug, "--wait")
    _nothing_written()


def test_staging_keeps_records_transformed_and_lineage_for_every_row(workflow, sandbox):
    run = import_rows(
        workflow, data=csv_bytes(contact_rows(3) + [{**contact_rows(1)[0], "Email": ""}])
    )

    states = dict(RunRecord.objects.filter(run=run).values_list("row_number", "state"))
    assert states == {
        2: RecordState.LOADED,
        3: RecordState.LOADED,
        4: RecordState.LOADED,
        5: RecordState.DEAD_LETTERED,
    }
    assert RunRecord.objects.get(run=run, row_number=5).raw["First Name"] == "First0"
    assert HEADERS[0] in RunRecord.objects.get(run=run, row_number=2).raw


def test_an_erased_person_is_skipped_as_suppressed_at_staging(workflow, sandbox):
    from audit.privacy import suppression_add

    suppression_add(email="person1@acme-analytics.com")

    run = import_rows(workflow, contact_rows(3))

    assert_invariant(run)
    assert (run.succeeded, run.skipped) == (2, 1)
    assert RunRecord.objects.get(run=run, row_number=3).skip_reason == "suppressed"
    assert "person1@acme-analytics.com" not in [
        c["properties"]["email"] for c in sandbox.objects("contacts")
    ]


def test_privacy_stores_find_and_erase_a_person_in_records_and_dead_letters(workflow, sandbox):
    from audit.privacy import registered_stores

    import_rows(workflow, contact_rows(2) + [{**contact_rows(1, start=5)[0], "Phone": "12"}])
    stores = {s.name: s for s in registered_stores() if s.name.startswith("pipelines.")}

    assert {"pipelines.run_records", "pipelines.dead_letters", "pipelines.inbound_events"} <= set(
        stores
    )
    assert len(stores["pipelines.dead_letters"].find("Person5@acme-analytics.com")) == 1
    assert stores["pipelines.run_records"].erase("person5@acme-analytics.com") == 1
    assert stores["pipelines.dead_letters"].erase("person5@acme-analytics.com") == 1
    assert stores["pipelines.run_records"].find("person5@acme-analytics.com") == []


def test_a_bad_byte_past_the_sample_fails_the_run_with_a_reason_and_stages_nothing(
    workflow, sandbox
):
    data = csv_bytes(contact_rows(800)) + b"\xff\xfe broken,row\n"
    assert len(data) > 64 * 1024  # detection saw valid UTF-8 only

    run = import_rows(workflow, data=data)

    assert run.status == "failure"
    assert "not valid utf-8" in run.status_message
    assert run.records_in == 0
    assert not RunRecord.objects.filter(run=run).exists()
