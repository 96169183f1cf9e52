"""Hostile input on the Clay webhook and CSV staging: huge timestamps, deep JSON, NUL bytes,
a chunk the database refuses twice. Same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from django.db import DataError
from django.db import connection as db

from pipelines.models import InboundEvent, RecordState, RunChunk, RunRecord, RunStatus
from pipelines.services import staged_records
from pipelines.services.chunks import run_chunk_stage
from pipelines.services.runs import run_execute_inline
from pipelines.services.webhooks import inbound_events_process
from tests.pipelines.conftest import assert_invariant, contact_rows, csv_bytes, import_rows
from tests.pipelines.test_clay_webhook import ROW, WHSEC, post, signed_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def hmac_workflow(workflow):
    connection = workflow.source_connection
    connection.auth_type = "hmac_sha256"
    connection.token = WHSEC
    connection.save()
    return workflow


@pytest.mark.parametrize("stamp", ["9" * 400, "-1" + "0" * 399, "1e400", "١٢٣", " ", "0x10"])
def test_a_huge_or_malformed_timestamp_is_a_401_with_a_reason(client, hmac_workflow, stamp):
    body = json.dumps(ROW).encode()
    headers = {**signed_headers(body), "HTTP_WEBHOOK_TIMESTAMP": stamp}
    response = post(client, hmac_workflow, body, token=None, **headers)
    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def nested(depth: int) -> bytes:
    return b'{"Email": "a@acme-analytics.com", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deeply_nested_json_is_a_400_naming_the_limit(client, workflow, depth):
    response = post(client, workflow, nested(depth))
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_json_within_the_depth_limit_is_accepted(client, workflow):
    assert post(client, workflow, nested(30)).status_code == 202


def test_a_nul_in_any_field_keeps_the_whole_delivery(client, workflow, sandbox):
    records = [
        {**ROW, "Email": "ok@acme-analytics.com"},
        {**ROW, "Email": "nul@acme-analytics.com", "First Name": "A\u0000da", "k\u0000": "v"},
    ]
    response = post(client, workflow, records)
    assert response.status_code == 202
    assert "NUL" in response.json()["warnings"][0]
    stored = InboundEvent.objects.get().payload
    assert [r["Email"] for r in stored] == ["ok@acme-analytics.com", "nul@acme-analytics.com"]
    assert stored[1]["First Name"] == "Ada"
    assert "k" in stored[1]
    run = inbound_events_process(workflow_id=workflow.pk, dispatch=False)
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)
    assert_invariant(run)
    assert run.succeeded == 2


def test_a_csv_with_a_nul_after_64_kb_finishes_with_a_warning_on_the_record(workflow, sandbox):
    rows = contact_rows(700)  # ~100 KB
    rows[650]["First Name"] = "Nu\u0000ll"
    run = import_rows(workflow, data=csv_bytes(rows))
    assert_invariant(run)
    assert run.status != RunStatus.PENDING
    assert run.succeeded == 700
    record = RunRecord.objects.get(run=run, row_number=652)
    assert record.raw["First Name"] == "Null"
    assert record.errors[0]["code"] == "nul_removed"
    assert RunRecord.objects.filter(run=run, state=RecordState.DEAD_LETTERED).count() == 0


def test_a_chunk_the_database_refuses_twice_fails_its_run_naming_the_row(workflow, monkeypatch):
    import io

    from pipelines.services.staging import run_create_csv

    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(3))),
        filename="c.csv",
        actor_label="test",
        dispatch=False,
    )
    from pipelines.services.chunks import run_chunks_plan

    run_chunks_plan(run=run)
    chunk = RunChunk.objects.get(run=run)

    def refuse(self):
        raise DataError("value refused")

    monkeypatch.setattr(staged_records.RecordWriter, "_copy", refuse)
    monkeypatch.setattr(
        staged_records.RunRecord.objects, "bulk_create", lambda *a, **k: refuse(None)
    )
    run_chunk_stage(chunk_id=chunk.pk)
    run.refresh_from_db()
    chunk.refresh_from_db()
    assert (run.status, chunk.failures, chunk.staged_at) == (RunStatus.PENDING, 1, None)
    run_chunk_stage(chunk_id=chunk.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILURE
    assert "rows 2-4" in run.status_message
    assert "failed the same way twice" in run.status_message
    assert not RunRecord.objects.filter(run=run).exists()  # nothing half-written


@pytest.mark.skipif(db.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_a_row_postgresql_refuses_is_named_by_its_number(workflow, monkeypatch):
    """The NUL rule switched off, so COPY itself refuses row 652 (UntranslatableCharacter)."""
    from pipelines.services import chunks

    monkeypatch.setattr(chunks, "NUL", "never-in-a-row")
    rows = contact_rows(700)  # the upload's binary check reads the first 64 KB only
    rows[650]["First Name"] = "Nu\u0000ll"
    run = import_rows(workflow, data=csv_bytes(rows))
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING  # once may be a passing fault: sent again later
    for chunk in RunChunk.objects.filter(run=run, staged_at=None):
        run_chunk_stage(chunk_id=chunk.pk)  # what the re-send does
    run.refresh_from_db()
    assert run.status == RunStatus.FAILURE
    assert "row 652" in run.status_message
    assert "UntranslatableCharacter" in run.status_message
    assert not RunRecord.objects.filter(run=run).exists()


def test_a_dead_letter_edit_with_nul_is_stored_cleaned_and_reprocessed(
    workflow, sandbox, admin_user
):
    from pipelines.models import DeadLetter
    from pipelines.services.dead_letters import dead_letter_edit, dead_letter_reprocess

    rows = [{**contact_rows(1)[0], "Email": "dana(at)acme-analytics.com"}]
    import_rows(workflow, rows)
    letter = DeadLetter.objects.get()
    letter = dead_letter_edit(
        dead_letter_id=letter.pk,
        payload={**letter.payload, "email": "dana@acme-analytics.com\u0000"},
        actor=admin_user,
    )
    letter.refresh_from_db()
    assert letter.payload["email"] == "dana@acme-analytics.com"
    assert "NUL character(s) removed" in letter.errors[-1]
    run = dead_letter_reprocess(dead_letter_ids=[letter.pk], actor=admin_user, dispatch=False)
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)
    assert_invariant(run)
    assert run.succeeded == 1


def test_a_stored_900_level_payload_opens_in_the_admin(client, admin_user):
    from django.urls import reverse
    from django.utils import timezone

    deep: dict = {"Email": "a@acme-analytics.com"}
    for _ in range(900):
        deep = {"x": deep}
    event = InboundEvent.objects.create(
        source="clay", dedupe_key="deep", payload=deep, received_at=timezone.now()
    )
    client.force_login(admin_user)
    response = client.get(reverse("admin:pipelines_inboundevent_change", args=[event.pk]))
    assert response.status_code == 200
    assert b"nested deeper than 64 levels, not shown" in response.content
