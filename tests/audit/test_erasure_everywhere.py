"""Erasure (docs/security.md, "Privacy requests"), with the real stores: a person seeded everywhere Switchyard keeps them
(staged records, the import file, dead letters, webhook payloads, sync state, routing
decisions, the warehouse table, HubSpot) is gone from all of it, and stays out."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from psycopg import sql

from audit.masking import hash_email
from audit.models import AuditEvent, PrivacyRequest
from audit.privacy import (
    privacy_access_export,
    privacy_access_export_csv,
    privacy_erasure_perform,
    registered_stores,
)
from integrations import registry
from integrations.models import AuthType, Connection, Provider
from pipelines.models import (
    DeadLetter,
    InboundEvent,
    RecordState,
    RoutingConfig,
    RoutingDecision,
    RunRecord,
    SkipReason,
    SyncedContact,
    WorkflowType,
)
from pipelines.routing.services import decision_dead_letter
from pipelines.services.runs import run_execute_inline
from pipelines.services.webhooks import inbound_events_process
from sandbox.hubspot import HubSpotSandbox
from tests.audit.test_privacy import database_hits
from tests.pipelines.conftest import contact_rows, import_rows, sandbox_emails
from tests.pipelines.factories import CLAY_SECRET, WorkflowFactory

pytestmark = pytest.mark.django_db

EMAIL = "dana.scully@acme-analytics.com"
AS_TYPED = "Dana.Scully@Acme-Analytics.com"
VARIANTS = (EMAIL, AS_TYPED, EMAIL.upper())
OTHER = "fox.mulder@acme-analytics.com"
_APP_URL = os.environ.get("DATABASE_URL", "")
WAREHOUSE_URL = (
    _APP_URL.rsplit("/", 1)[0] + "/postgres" if _APP_URL.startswith("postgres") else None
)
STORES = {
    "integrations.hubspot_contacts",
    "pipelines.import_files",
    "pipelines.dead_letters",
    "pipelines.inbound_events",
    "pipelines.routing_decisions",
    "pipelines.sync_state",
    "pipelines.warehouse",
    "pipelines.run_records",
}


@pytest.fixture
def sandbox(monkeypatch):
    """One sandbox behind every HubSpot client: the load stage's and the registry's."""
    app = HubSpotSandbox(seed=1)
    transport = httpx.WSGITransport(app=app)
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", transport)
    return app


@pytest.fixture
def warehouse_table():
    """A throwaway table in the `postgres` maintenance database (PostgreSQL only)."""
    if not WAREHOUSE_URL:
        yield None
        return
    name = f"sy_erasure_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(WAREHOUSE_URL) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def warehouse_rows(table: str, email: str) -> list[tuple]:
    with psycopg.connect(WAREHOUSE_URL) as conn:
        query = sql.SQL("SELECT * FROM {} WHERE lower(email) = %s").format(sql.Identifier(table))
        return conn.execute(query, [email]).fetchall()


def webhook_post(client, workflow, payload) -> None:
    response = client.generic(
        "POST",
        f"/hooks/clay/{workflow.slug}/",
        json.dumps(payload).encode(),
        content_type="application/json",
        HTTP_X_SWITCHYARD_TOKEN=CLAY_SECRET,
    )
    assert response.status_code == 202, response.content


def webhook_run(workflow):
    return run_execute_inline(
        run_id=inbound_events_process(workflow_id=workflow.pk, dispatch=False).pk,
        honour_backoff=False,
    )


@pytest.fixture
def person(db, client, settings, tmp_path, sandbox, warehouse_table):
    """Dana, everywhere: a CSV import and a webhook (records, file, event, sync state, HubSpot,
    warehouse), a dead letter, and a routing decision that dead-lettered."""
    settings.MEDIA_ROOT = tmp_path / "media"
    extra = {}
    if warehouse_table:
        warehouse = Connection.objects.create(
            name="warehouse",
            provider=Provider.WAREHOUSE,
            auth_type=AuthType.DSN,
            token=WAREHOUSE_URL,
        )
        extra = {"warehouse_connection": warehouse, "warehouse_table": warehouse_table}
    workflow = WorkflowFactory(**extra)
    rows = contact_rows(2)
    rows[0]["Email"] = AS_TYPED
    csv_run = import_rows(workflow, rows)
    assert csv_run.succeeded == 2
    webhook_post(
        client, workflow, [{**rows[0], "Job Title": "Special Agent"}, {**rows[1], "Email": OTHER}]
    )
    webhook_run(workflow)

    record = RunRecord.objects.filter(match_key=EMAIL).first()
    DeadLetter.objects.create(
        run=record.run,
        record=record,
        workflow=workflow,
        stage="load",
        category="rejected",
        errors=[f"HubSpot refused {EMAIL}"],
        payload={"email": EMAIL, "firstname": "Dana"},
        source_row=rows[0],
    )
    routing_workflow = WorkflowFactory(
        type=WorkflowType.MQL_ROUTING, destination_connection=workflow.destination_connection
    )
    config = RoutingConfig.objects.create(
        workflow=routing_workflow, hubspot_connection=workflow.destination_connection
    )
    contact_id = str(
        next(c["id"] for c in sandbox.objects("contacts") if c["properties"]["email"] == EMAIL)
    )
    decision = RoutingDecision.objects.create(
        config=config,
        dedupe_key="webhook:1",
        trigger="webhook",
        contact_id=contact_id,
        inputs={
            "contact": {"email": EMAIL, "firstname": "Dana", "lastname": "Scully"},
            "company": {},
        },
        territory_reason=f"no territory for {EMAIL}",
    )
    decision_dead_letter(decision=decision, category="unroutable", message="no territory")
    assert SyncedContact.objects.filter(match_key=EMAIL).exists()
    assert EMAIL in sandbox_emails(sandbox)
    return SimpleNamespace(
        workflow=workflow, csv_run=csv_run, warehouse_table=warehouse_table, rows=rows
    )


def test_every_store_is_registered():
    assert STORES <= {store.name for store in registered_stores()}


def test_erasure_leaves_nothing_anywhere_and_the_receipt_counts_each_store(
    person, sandbox, admin_user
):
    if person.warehouse_table:
        assert warehouse_rows(person.warehouse_table, EMAIL)

    receipt = privacy_erasure_perform(email=AS_TYPED, actor=admin_user)

    removed = {s.store: s.removed for s in receipt.stores}
    assert receipt.status == "completed", [s for s in receipt.stores if s.error]
    expected = STORES - ({"pipelines.warehouse"} if not person.warehouse_table else set())
    assert {name for name, count in removed.items() if count > 0} >= expected, removed
    assert removed["integrations.hubspot_contacts"] == 1
    # The database, every table as text; the sandbox; the warehouse; the uploaded file.
    assert database_hits([*VARIANTS, "dana.scully", "Scully"]) == []
    assert EMAIL not in sandbox_emails(sandbox)
    if person.warehouse_table:
        assert warehouse_rows(person.warehouse_table, EMAIL) == []
    with person.csv_run.input_file.open("rb") as stored:
        content = stored.read().decode()
    assert "scully" not in content.lower()
    assert "person1@acme-analytics.com" in content  # the other people stay
    # Other people are untouched.
    assert RunRecord.objects.filter(match_key="person1@acme-analytics.com").exclude(raw={}).exists()
    # The request, its receipt and its event hold the hash only.
    event = AuditEvent.objects.get(action="privacy.erasure")
    assert event.metadata["email_hash"] == hash_email(EMAIL)
    assert set(event.metadata["stores"]) == {s.store for s in receipt.stores}
    assert "scully" not in json.dumps(PrivacyRequest.objects.get(kind="erasure").receipt).lower()
    # Idempotent: a second run finds nothing.
    again = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert again.status == "completed"
    assert again.total_removed == 0


def test_after_erasure_a_new_import_or_webhook_about_the_person_is_skipped_and_not_kept(
    person, sandbox, client, admin_user
):
    privacy_erasure_perform(email=EMAIL, actor=admin_user)

    rows = contact_rows(1, start=5)
    run = import_rows(person.workflow, [{**person.rows[0], "Job Title": "Director"}, *rows])
    assert (run.records_in, run.succeeded, run.skipped) == (2, 1, 1)
    skipped = RunRecord.objects.get(run=run, state=RecordState.SKIPPED)
    assert skipped.skip_reason == SkipReason.SUPPRESSED

    webhook_post(
        client,
        person.workflow,
        [{**person.rows[0], "Job Title": "Deputy"}, {**rows[0], "Job Title": "VP"}],
    )
    hooked = webhook_run(person.workflow)
    assert (hooked.records_in, hooked.skipped) == (2, 1)
    assert RunRecord.objects.get(run=hooked, skip_reason=SkipReason.SUPPRESSED).raw == {}
    event = InboundEvent.objects.filter(run=hooked).get()
    assert event.payload[0] == {"erased": True}
    assert event.payload[1]["Email"] == rows[0]["Email"]

    assert EMAIL not in sandbox_emails(sandbox)
    with run.input_file.open("rb") as stored:
        assert "scully" not in stored.read().decode().lower()
    assert database_hits([*VARIANTS, "dana.scully"]) == []


def test_a_hubspot_failure_is_recorded_for_its_store_and_the_rest_is_erased(
    person, sandbox, admin_user
):
    sandbox.set_faults({"503": 1.0})

    receipt = privacy_erasure_perform(email=EMAIL, actor=admin_user)

    assert receipt.status == "partial"
    hubspot = next(s for s in receipt.stores if s.store == "integrations.hubspot_contacts")
    assert hubspot.error
    assert "scully" not in hubspot.error.lower()
    assert all(not s.error for s in receipt.stores if s.store != "integrations.hubspot_contacts")
    assert PrivacyRequest.objects.get(kind="erasure").status == "partial"
    assert (
        AuditEvent.objects.get(action="privacy.erasure").metadata["stores"][
            "integrations.hubspot_contacts"
        ]
        == "failed"
    )
    assert not RunRecord.objects.filter(match_key=EMAIL).exists()

    sandbox.set_faults({})
    again = privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert again.status == "completed"
    assert EMAIL not in sandbox_emails(sandbox)


def test_the_access_export_holds_every_stores_data_in_json_and_csv(person, admin_user):
    export = privacy_access_export(email=AS_TYPED, actor=admin_user)

    assert export["errors"] == {}
    expected = STORES - ({"pipelines.warehouse"} if not person.warehouse_table else set())
    for name in expected:
        assert export["stores"].get(name), f"{name} returned nothing"
        assert EMAIL in json.dumps(export["stores"][name]).lower(), name
    hubspot = export["stores"]["integrations.hubspot_contacts"][0]
    assert hubspot["properties"]["email"] == EMAIL
    assert hubspot["properties"]["firstname"] == "First0"
    assert {r["cells"]["Email"] for r in export["stores"]["pipelines.import_files"]} == {AS_TYPED}
    rows = list(csv.reader(io.StringIO(privacy_access_export_csv(export))))
    assert {row[0] for row in rows[1:]} >= expected
    for name in expected:
        assert any(row[0] == name and EMAIL in row[3].lower() for row in rows[1:]), name
    assert OTHER not in json.dumps(export).lower()


@pytest.mark.skipif(
    not WAREHOUSE_URL,
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the warehouse is a real table",
)
def test_the_warehouse_rows_are_exported_and_deleted(person, admin_user):
    export = privacy_access_export(email=EMAIL, actor=admin_user)
    (row,) = export["stores"]["pipelines.warehouse"]
    assert (row["table"], row["row"]["email"]) == (person.warehouse_table, EMAIL)
    assert row["row"]["properties"]["firstname"] == "First0"
    privacy_erasure_perform(email=EMAIL, actor=admin_user)
    assert warehouse_rows(person.warehouse_table, EMAIL) == []
    assert warehouse_rows(person.warehouse_table, "person1@acme-analytics.com")
