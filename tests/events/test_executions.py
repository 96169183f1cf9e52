"""The lead-alert chain: Slack alert → Clay priority table → wait for Clay's callback →
HubSpot update → Slack thread reply; stop at a failing step, resume from it, never redo a
completed step (docs/events.md, "Chains")."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from events.executions.engine import execution_advance, execution_cancel, executions_sweep
from events.models import Execution, ExecutionState, StepState
from events.services import events_emit
from integrations.models import AuthType, Provider
from pipelines.configuration import config_apply
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

LEAD_ALERT_YAML = """
events:
  subscriptions:
    - name: high-value-lead
      trigger:
        source: hubspot-main
        object: contact
        type: propertyChange
        property: recent_conversion_event_name
        conditions:
          - {field: annualrevenue, op: gt, value: "1000000"}
  workflows:
    - name: lead-alert
      trigger: high-value-lead
      steps:
        - {name: alert, kind: slack_message, connection: slack-main, channel: "#leads", text: "High-value lead {email} at {company} submitted {value}"}
        - {name: research, kind: clay_table, connection: clay-priority-table, row: {email: "{email}", company: "{company}", callback_url: "{findings.callback_url}"}}
        - {name: findings, kind: wait_callback, timeout_seconds: 900}
        - {name: update, kind: hubspot_update, connection: hubspot-main, object_type: contacts, object_id: "{object_id}", properties: {hs_lead_status: IN_PROGRESS, industry: "{findings.industry}"}}
        - {name: reply, kind: slack_reply, connection: slack-main, channel: "#leads", thread_of: alert, text: "Clay research: {findings.summary}"}
"""


@pytest.fixture
def chain(hub, client):
    ConnectionFactory(
        name="clay-priority-table",
        provider=Provider.CLAY,
        auth_type=AuthType.HEADER_TOKEN,
        base_url="http://clay.test/tables/priority/webhook",
        token="clay-table-token",
        options={"header": "x-clay-webhook-auth"},
    )

    def callback(url: str, body: dict) -> None:  # Clay's HTTP column, posting to us
        client.post(urlsplit(url).path, data=json.dumps(body), content_type="application/json")

    hub.clay.callback_sender = callback
    hub.clay.findings = lambda row: {
        "summary": f"{row['company']} is hiring",
        "industry": "Software",
    }
    [contact] = hub.hubspot.sandbox.seed_objects(
        "contacts",
        [{"email": "ada@acme.com", "company": "Acme", "annualrevenue": "5000000"}],
    )
    config_apply(text=LEAD_ALERT_YAML)
    return contact


def form_submission(contact: str, event_id: int = 7) -> list[dict]:
    return [
        {
            "eventId": event_id,
            "subscriptionId": 99,
            "portalId": 62515,
            "occurredAt": 1_767_225_600_000 + event_id,
            "subscriptionType": "contact.propertyChange",
            "objectId": int(contact),
            "propertyName": "recent_conversion_event_name",
            "propertyValue": "Demo request",
        }
    ]


def start(contact: str) -> Execution:
    events_emit(source="hubspot-main", payload=form_submission(contact))
    execution = Execution.objects.get()
    execution_advance(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


def test_the_chain_runs_to_its_thread_reply(hub, chain):
    execution = start(chain)

    assert execution.state == ExecutionState.SUCCEEDED
    steps = {s.name: s for s in execution.steps.all()}
    assert all(s.state == StepState.SUCCEEDED for s in steps.values())
    alert, reply = hub.slack.messages
    assert alert["text"] == "High-value lead ada@acme.com at Acme submitted Demo request"
    assert alert["thread_ts"] is None
    assert reply["thread_ts"] == alert["ts"]
    assert reply["text"] == "Clay research: Acme is hiring"
    [row] = hub.clay.rows["priority"]
    assert row["row"]["callback_url"].startswith("http://")
    assert "/hooks/events/callback/" in row["row"]["callback_url"]
    contact = hub.hubspot.sandbox.store.records["contacts"][chain]["properties"]
    assert contact["hs_lead_status"] == "IN_PROGRESS"
    assert contact["industry"] == "Software"
    assert execution.definition.version == 1


def test_a_lead_below_the_threshold_starts_no_chain(hub, chain):
    record = hub.hubspot.sandbox.store.records["contacts"][chain]
    hub.hubspot.sandbox.store.update("contacts", record, {"annualrevenue": "50000"})
    events_emit(source="hubspot-main", payload=form_submission(chain))
    assert not Execution.objects.exists()


def test_clay_down_stops_the_chain_at_that_step_and_resume_never_redoes_the_alert(
    hub, chain, admin_user
):
    hub.clay.down = True
    execution = start(chain)
    for _ in range(3):  # the step's retries (the Celery countdowns, run now)
        execution_advance(execution_id=execution.pk)
    execution.refresh_from_db()

    assert execution.state == ExecutionState.FAILED
    research = execution.steps.get(name="research")
    assert research.state == StepState.FAILED
    assert research.attempts == 3
    assert "503" in research.error or "Clay" in research.error
    assert len(hub.slack.messages) == 1  # the alert, once
    assert "priority" not in hub.clay.rows
    out = StringIO()
    call_command("executions", "list", "--state", "failed", "--json", stdout=out)
    assert json.loads(out.getvalue())[0]["failed_step"] == "research"

    hub.clay.down = False
    call_command("executions", "resume", str(execution.pk), stdout=StringIO())
    execution_advance(execution_id=execution.pk)
    execution.refresh_from_db()

    assert execution.state == ExecutionState.SUCCEEDED
    assert [m.get("thread_ts") for m in hub.slack.messages] == [None, hub.slack.messages[0]["ts"]]
    assert len(hub.clay.rows["priority"]) == 1
    assert AuditEvent.objects.filter(action="execution.resumed").count() == 1


def test_a_wait_that_times_out_fails_at_the_wait_step_and_a_late_callback_is_refused(
    hub, chain, client
):
    hub.clay.callback_sender = lambda url, body: None  # Clay never calls back
    execution = start(chain)
    assert execution.state == ExecutionState.WAITING

    assert executions_sweep(now=timezone.now() + timedelta(seconds=901)) == 1
    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED
    assert execution.steps.get(name="findings").state == StepState.FAILED

    token_url = urlsplit(hub.clay.rows["priority"][0]["row"]["callback_url"]).path
    late = client.post(token_url, data="{}", content_type="application/json")
    assert late.status_code == 410
    assert (
        client.post(
            "/hooks/events/callback/not-a-token/", data="{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert len(hub.slack.messages) == 1  # no reply without findings


def test_a_cancelled_execution_refuses_its_callback_and_says_why(hub, chain, client, admin_user):
    hub.clay.callback_sender = lambda url, body: None
    execution = start(chain)
    execution_cancel(execution_id=execution.pk, reason="duplicate lead", actor=admin_user)

    token_url = urlsplit(hub.clay.rows["priority"][0]["row"]["callback_url"]).path
    response = client.post(token_url, data='{"summary": "x"}', content_type="application/json")
    execution.refresh_from_db()
    assert response.status_code == 410
    assert execution.cancel_reason == "duplicate lead"
    assert execution.steps.get(name="update").state == StepState.PENDING


def test_a_new_definition_version_leaves_running_executions_on_theirs(hub, chain):
    hub.clay.callback_sender = lambda url, body: None
    execution = start(chain)
    config_apply(text=LEAD_ALERT_YAML.replace("Clay research:", "Research:"))
    execution.refresh_from_db()
    assert execution.definition.version == 1
    assert execution.definition.steps[-1]["text"].startswith("Clay research:")


def test_a_finding_clay_did_not_return_does_not_clear_the_hubspot_property(hub, chain):
    record = hub.hubspot.sandbox.store.records["contacts"][chain]
    hub.hubspot.sandbox.store.update("contacts", record, {"industry": "Retail"})
    hub.clay.findings = lambda row: {"summary": "no industry found"}
    execution = start(chain)

    assert execution.state == ExecutionState.SUCCEEDED
    properties = hub.hubspot.sandbox.store.records["contacts"][chain]["properties"]
    assert properties["industry"] == "Retail"
    assert properties["hs_lead_status"] == "IN_PROGRESS"
