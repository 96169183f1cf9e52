"""The Clay inbound endpoint: authenticate, bound, store, acknowledge; process in batches."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from audit.models import AuditEvent
from integrations.models import AuthType
from pipelines.models import InboundEvent, RecordState, Run, RunRecord
from pipelines.services.runs import run_execute_inline
from pipelines.services.webhooks import inbound_events_process
from tests.pipelines.conftest import assert_invariant, sandbox_emails
from tests.pipelines.factories import CLAY_SECRET

pytestmark = pytest.mark.django_db

ROW = {
    "Email": " Ada@Acme-Analytics.com ",
    "First Name": "Ada",
    "Last Name": "Lovelace",
    "Country": "United Kingdom",
    "Phone": "020 7946 0958",
}
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-test-secret-32b").decode()


def url(workflow) -> str:
    return f"/hooks/clay/{workflow.slug}/"


def post(
    client, workflow, payload, *, token=CLAY_SECRET, content_type="application/json", **headers
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if token is not None:
        headers["HTTP_X_SWITCHYARD_TOKEN"] = token
    return client.generic("POST", url(workflow), body, content_type=content_type, **headers)


def signed_headers(
    body: bytes, *, secret: str = WHSEC, stamp: int | None = None, msg_id: str = "msg_1"
) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(
        hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(stamp),
        "HTTP_WEBHOOK_SIGNATURE": f"v1,{signature}",
    }


def test_a_record_with_the_right_token_is_stored_and_acknowledged_before_processing(
    client, workflow, sandbox
):
    response = post(client, workflow, ROW)

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.workflow, event.processed_at, event.payload["First Name"]) == (
        workflow,
        None,
        "Ada",
    )
    assert not Run.objects.exists()  # nothing processed in the request
    assert sandbox.request_log == []


def test_stored_events_are_processed_as_one_run_in_batches(client, workflow, sandbox):
    post(client, workflow, ROW)
    post(client, workflow, [{**ROW, "Email": f"p{i}@acme-analytics.com"} for i in range(3)])

    run = inbound_events_process(workflow_id=workflow.pk, dispatch=False)
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)

    assert_invariant(run)
    assert (run.trigger, run.records_in, run.succeeded) == ("webhook", 4, 4)
    assert sorted(sandbox_emails(sandbox))[0] == "ada@acme-analytics.com"
    record = RunRecord.objects.get(run=run, match_key="ada@acme-analytics.com")
    assert record.source == "webhook"
    assert record.event_id
    assert record.values["phone"] == "+442079460958"
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert inbound_events_process(workflow_id=workflow.pk, dispatch=False) is None  # nothing left


def test_an_array_of_records_is_accepted(client, workflow):
    response = post(client, workflow, [ROW, {**ROW, "Email": "grace@acme-analytics.com"}])

    assert response.status_code == 202
    assert response.json()["records"] == 2


def test_a_repeated_event_id_is_acknowledged_and_not_processed_twice(client, workflow, sandbox):
    first = post(client, workflow, ROW, HTTP_X_EVENT_ID="evt-1")
    second = post(client, workflow, {**ROW, "Job Title": "changed"}, HTTP_X_EVENT_ID="evt-1")

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    run = run_execute_inline(
        run_id=inbound_events_process(workflow_id=workflow.pk, dispatch=False).pk,
        honour_backoff=False,
    )
    assert run.records_in == 1


def test_an_identical_body_without_event_id_within_24h_is_a_duplicate(client, workflow):
    assert post(client, workflow, ROW).status_code == 202
    assert post(client, workflow, ROW).status_code == 200
    assert post(client, workflow, {**ROW, "First Name": "Ada B."}).status_code == 202
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize("token", ["wrong-token", None], ids=["wrong", "missing"])
def test_bad_or_missing_token_is_401_audited_and_nothing_stored(client, workflow, token):
    response = post(client, workflow, ROW, token=token)

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()
    event = AuditEvent.objects.get(action="webhook.rejected")
    assert event.object_id == str(workflow.pk)
    assert "X-Switchyard-Token" in event.metadata["reason"]
    assert CLAY_SECRET not in json.dumps(event.metadata)


def test_a_rotated_secret_accepts_both_during_the_overlap(client, workflow):
    connection = workflow.source_connection
    connection.token = f"new-secret-abcdef0123456789\n{CLAY_SECRET}"
    connection.save()

    assert post(client, workflow, ROW, token="new-secret-abcdef0123456789").status_code == 202
    assert post(client, workflow, {**ROW, "x": 1}, token=CLAY_SECRET).status_code == 202


@pytest.fixture
def hmac_workflow(workflow):
    connection = workflow.source_connection
    connection.auth_type = AuthType.HMAC_SHA256
    connection.token = WHSEC
    connection.save()
    return workflow


def test_hmac_valid_signature_is_accepted(client, hmac_workflow):
    body = json.dumps(ROW).encode()

    response = post(client, hmac_workflow, body, token=None, **signed_headers(body))

    assert response.status_code == 202
    assert InboundEvent.objects.get().event_id == "msg_1"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("stale", "more than 5 minutes"),
        ("future", "more than 5 minutes"),
        ("body", "does not match"),
        ("secret", "does not match"),
        ("missing", "missing"),
    ],
)
def test_hmac_stale_tampered_or_missing_signature_is_401(client, hmac_workflow, tamper, reason):
    body = json.dumps(ROW).encode()
    headers = signed_headers(
        body,
        # 30 s past the 5-minute tolerance either way, so a slow test machine cannot bring a
        # "future" stamp back inside the window before the request is checked.
        stamp=int(time.time()) + {"stale": -330, "future": 330}.get(tamper, 0),
        secret="whsec_" + base64.b64encode(b"another-secret").decode()
        if tamper == "secret"
        else WHSEC,
    )
    if tamper == "body":
        body = body.replace(b"Ada", b"Eve")
    if tamper == "missing":
        headers.pop("HTTP_WEBHOOK_SIGNATURE")

    response = post(client, hmac_workflow, body, token=None, **headers)

    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert not InboundEvent.objects.exists()
    assert AuditEvent.objects.filter(action="webhook.rejected").count() == 1


def test_malformed_json_is_400_naming_the_problem(client, workflow):
    response = post(client, workflow, b'{"Email": "a@b.com",}')

    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert "line 1" in response.json()["error"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"[]", "empty"), (b"[1, 2]", "not a JSON object"), (b'"x"', "JSON object")],
)
def test_json_that_is_not_records_is_400(client, workflow, payload, message):
    response = post(client, workflow, payload)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_content_type_other_than_json_is_415(client, workflow):
    response = post(
        client, workflow, b"Email=a@b.com", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert not InboundEvent.objects.exists()


def test_a_body_over_the_limit_is_413_not_400(client, workflow, settings):
    settings.PIPELINE_WEBHOOK_MAX_BYTES = 5 * 1024 * 1024
    body = json.dumps({"Email": "a@acme-analytics.com", "blob": "x" * (5 * 1024 * 1024)}).encode()

    response = post(client, workflow, body)

    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_an_unknown_workflow_or_get_request_is_refused(client, workflow):
    assert (
        client.post(
            "/hooks/clay/no-such-workflow/", ROW, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(url(workflow)).status_code == 405


def test_staged_webhook_records_keep_their_event_as_lineage(client, workflow, sandbox):
    post(client, workflow, [ROW, {**ROW, "Email": "bad"}], HTTP_X_EVENT_ID="evt-9")

    run = run_execute_inline(
        run_id=inbound_events_process(workflow_id=workflow.pk, dispatch=False).pk,
        honour_backoff=False,
    )

    assert_invariant(run)
    bad = RunRecord.objects.get(run=run, state=RecordState.DEAD_LETTERED)
    assert (bad.event_id, bad.row_number, bad.inbound_event.event_id) == ("evt-9", 2, "evt-9")


def test_privacy_store_finds_and_erases_webhook_payloads(client, workflow, sandbox):
    from audit.privacy import registered_stores

    post(client, workflow, ROW)
    store = next(s for s in registered_stores() if s.name == "pipelines.inbound_events")

    assert len(store.find("ada@acme-analytics.com")) == 1
    assert store.erase("ada@acme-analytics.com") == 1
    assert InboundEvent.objects.get().payload == {"erased": True}
