"""What a killed worker leaves behind is put right by the sweeper, without doing anything
twice: a delivery whose lease expired is sent once; a chain interrupted in a Slack step stops
there for a human instead of posting again; one interrupted in an idempotent step re-runs it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from events.delivery import deliveries_claim, subscriber_deliver
from events.executions.engine import execution_advance, execution_start
from events.models import Delivery, Execution, ExecutionStep, Subscriber, WorkflowDefinition
from events.services import events_emit
from events.sweep import deliveries_sweep
from pipelines.configuration import config_apply
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = pytest.mark.django_db


def test_a_delivery_claimed_by_a_worker_that_died_is_sent_once_after_its_lease(hub):
    [deal] = hub.hubspot.sandbox.seed_objects("deals", [{"dealname": "Acme", "amount": "9"}])
    config_apply(text=DEAL_WON_YAML)
    events_emit(source="hubspot-main", payload=[deal_stage_event(deal_id=deal, stage="closedwon")])
    invoice = Subscriber.objects.get(name="invoice")
    # A worker claims the delivery, then is SIGKILLed before sending.
    [claimed] = deliveries_claim(subscriber_id=invoice.pk, limit=10, now=timezone.now())
    assert subscriber_deliver(subscriber_id=invoice.pk) == 0  # leased: nobody else takes it

    Delivery.objects.filter(pk=claimed).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert deliveries_sweep()["released"] == 1
    subscriber_deliver(subscriber_id=invoice.pk)

    delivery = Delivery.objects.get(pk=claimed)
    assert delivery.state == "delivered"
    assert delivery.attempts == 2  # the lost attempt is counted
    assert hub.finance.stats()["received"] == 1


def chain(kind: str) -> Execution:
    steps = {
        "slack": {
            "name": "alert",
            "kind": "slack_message",
            "connection": "slack-main",
            "channel": "#leads",
            "text": "hi",
        },
        "hubspot": {
            "name": "update",
            "kind": "hubspot_update",
            "connection": "hubspot-main",
            "object_type": "contacts",
            "object_id": "{object_id}",
            "properties": {"hs_lead_status": "OPEN"},
        },
    }
    definition = WorkflowDefinition.objects.create(name=kind, version=1, steps=[steps[kind]])
    return execution_start(definition=definition, context={"object_id": "1"})


def killed_mid_step(execution: Execution) -> None:
    """The state a SIGKILL leaves: the step running, the execution's lease expired."""
    ExecutionStep.objects.filter(execution=execution).update(state="running", attempts=1)
    Execution.objects.filter(pk=execution.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_chain_killed_while_posting_to_slack_stops_there_instead_of_posting_twice(hub):
    execution = chain("slack")
    killed_mid_step(execution)

    execution_advance(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.state == "failed"
    assert "check Slack" in execution.steps.get().error
    assert hub.slack.messages == []


def test_a_chain_killed_during_an_idempotent_step_runs_it_again(hub):
    [contact] = hub.hubspot.sandbox.seed_objects("contacts", [{"email": "bo@acme.com"}])
    execution = chain("hubspot")
    definition = execution.definition
    definition.steps[0]["object_id"] = contact
    definition.save()
    killed_mid_step(execution)

    execution_advance(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.state == "succeeded"
    props = hub.hubspot.sandbox.store.records["contacts"][contact]["properties"]
    assert props["hs_lead_status"] == "OPEN"


def test_a_body_nested_too_deeply_is_a_400_not_a_500(client, hub):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/hooks/events/callback/abc/", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "the JSON is nested too deeply"
