"""The event hub, done: the deal-won fan-out shows five deliveries and one failing
subscriber's letter is edited and redelivered from the dead-letter queue; the lead-alert chain runs to its thread
reply, stops at the Clay step while Clay is down and resumes from that step, with exactly
one Slack message per step.

HubSpot's webhook is a real v3-signed POST to the live server; the stand-ins are reached
through integrations.registry, Slack included. The test plays the workers: after each action it runs what the Celery tasks run.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from events.delivery import subscriber_deliver
from events.executions.engine import execution_advance
from events.fanout import event_fan_out
from events.models import Delivery, Event, Execution, ExecutionState, Subscriber
from integrations.hubspot.webhooks import signature_v3
from pipelines.configuration import config_apply
from tests.conftest import make_persona
from tests.events.conftest import DEAL_WON_YAML, HUBSPOT_CLIENT_SECRET, deal_stage_event, hub  # noqa: F401
from tests.events.test_executions import LEAD_ALERT_YAML, form_submission
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def hubspot_sends(live_server, events: list[dict]) -> httpx.Response:
    """What HubSpot does: POST the batch, signed v3 over our URL, body and a ms timestamp."""
    url = f"{live_server.url}/hooks/events/hubspot/hubspot-main/"
    body = json.dumps(events).encode()
    stamp = int(timezone.now().timestamp() * 1000)
    signature = signature_v3(
        client_secret=HUBSPOT_CLIENT_SECRET, method="POST", uri=url, body=body, timestamp_ms=stamp
    )
    return httpx.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": str(stamp),
        },
    )


def work() -> None:
    """One round of what the workers do: fan out, deliver, advance executions."""
    from events.executions.engine import executions_start_for_events

    pending = list(Event.objects.filter(fanned_out_at__isnull=True).values_list("pk", flat=True))
    for event_id in pending:
        event_fan_out(event_id=event_id)
    executions_start_for_events(event_ids=pending)
    Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
    for subscriber_id in Subscriber.objects.values_list("pk", flat=True):
        subscriber_deliver(subscriber_id=subscriber_id)
    for execution_id in Execution.objects.filter(state="running").values_list("pk", flat=True):
        execution_advance(execution_id=execution_id)


def work_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the workers did not get there in time"
        work()
        time.sleep(0.1)


def test_deal_won_fanout_then_a_dead_letter_edited_and_redelivered(
    live_server,
    page,
    login_as,
    hub,  # noqa: F811
    tmp_path,
):
    [deal] = hub.hubspot.sandbox.seed_objects("deals", [{"dealname": "Acme renewal"}])
    config_apply(text=DEAL_WON_YAML)
    login_as(make_persona("admin"))

    page.goto(f"{live_server.url}/admin/events/subscription/")
    page.get_by_role("link", name="deal-won-fanout").click()
    expect(page.locator("input[name=to_value]")).to_have_value("closedwon")

    assert (
        hubspot_sends(live_server, [deal_stage_event(deal_id=deal, stage="closedwon")]).status_code
        == 202
    )
    work()

    event = Event.objects.get(source="hubspot-main")
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    states = page.locator("a.delivery-state")
    expect(states).to_have_count(5)
    expect(page.locator("a.delivery-state", has_text="delivered")).to_have_count(4)
    expect(page.get_by_text("5 = 4 + 1 + 0")).to_be_visible()
    page.screenshot(path=str(tmp_path / "events-fanout.png"), full_page=True)

    # The failing subscriber's letter is in the dead-letter queue, beside the pipelines' ones.
    page.goto(live_server.url + reverse("switchyard:dead-letters"))
    row = page.locator("#dead-letter-list tbody tr", has_text="deal-won-fanout/invoice")
    expect(row).to_have_count(1)
    expect(page.locator("#dead-letter-groups")).to_contain_text("Subscriber refused the delivery")
    page.screenshot(path=str(tmp_path / "events-queue.png"), full_page=True)
    row.locator("td a").first.click()
    expect(page.locator("#dead-letter-errors")).to_contain_text("422")
    expect(page.locator("input[name='p_body.data.dealname']")).to_have_value("Acme renewal")
    page.fill("input[name='p_body.data.amount']", "12000")  # HubSpot had no amount
    page.screenshot(path=str(tmp_path / "events-letter.png"), full_page=True)
    page.get_by_role("button", name="Save and redeliver").click()
    expect(page.locator(".messagelist")).to_contain_text("put back for delivery")
    work()
    page.reload()
    expect(page.locator("#dead-letter-resolution")).to_contain_text("redelivered")
    page.get_by_role("link", name="event hub · deal-won-fanout/invoice").click()
    expect(page.locator("#delivery-state")).to_have_text("Delivered")
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    expect(page.get_by_text("5 = 5 + 0 + 0")).to_be_visible()

    assert hub.finance.stats()["received"] == 1
    assert hub.finance.stats()["duplicates"] == 0
    assert len(hub.slack.messages) == 1
    assert Delivery.objects.filter(state="delivered").count() == 5


def test_lead_alert_chain_stops_at_clay_and_resumes_from_there(
    live_server,
    page,
    login_as,
    hub,  # noqa: F811
    tmp_path,
):
    ConnectionFactory(
        name="clay-priority-table",
        provider="clay",
        auth_type="header_token",
        base_url="http://clay.test/tables/priority/webhook",
        token="clay-table-token",
        options={"header": "x-clay-webhook-auth"},
    )
    from django.conf import settings

    settings.PUBLIC_BASE_URL = live_server.url
    # Clay calls back over real HTTP while the row is being sent (no delay): the in-memory
    # SQLite of the test server takes one writer at a time.
    hub.clay.callback_delay = 0
    hub.clay.callback_sender = lambda url, body: httpx.post(url, json=body)
    [contact] = hub.hubspot.sandbox.seed_objects(
        "contacts", [{"email": "ada@acme.com", "company": "Acme", "annualrevenue": "5000000"}]
    )
    config_apply(text=LEAD_ALERT_YAML)
    login_as(make_persona("admin"))

    # First run with Clay up: all the way to the thread reply.
    assert hubspot_sends(live_server, form_submission(contact, event_id=1)).status_code == 202
    work_until(lambda: Execution.objects.filter(state=ExecutionState.SUCCEEDED).count() == 1)
    alert, reply = hub.slack.messages
    assert reply["thread_ts"] == alert["ts"]

    # Second lead while Clay is down: the chain stops at the Clay step.
    hub.clay.down = True
    assert hubspot_sends(live_server, form_submission(contact, event_id=2)).status_code == 202
    work_until(lambda: Execution.objects.filter(state=ExecutionState.FAILED).exists())
    failed = Execution.objects.get(state=ExecutionState.FAILED)

    page.goto(f"{live_server.url}/admin/events/execution/?state__exact=failed")
    page.get_by_role("link", name=str(failed.pk), exact=True).click()
    expect(page.locator("tr[data-step=alert] .step-state")).to_have_text("Succeeded")
    expect(page.locator("tr[data-step=research] .step-state")).to_have_text("Failed")
    expect(page.locator("tr[data-step=reply] .step-state")).to_have_text("Pending")
    page.screenshot(path=str(tmp_path / "events-chain-failed.png"), full_page=True)

    hub.clay.down = False
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".messagelist")).to_contain_text("Resumed from the failed step")
    work_until(lambda: Execution.objects.get(pk=failed.pk).state == ExecutionState.SUCCEEDED)
    page.reload()
    expect(page.locator("#execution-state")).to_have_text("Succeeded")
    expect(page.locator("tr.step-succeeded")).to_have_count(5)
    page.screenshot(path=str(tmp_path / "events-chain-resumed.png"), full_page=True)

    # Exactly one Slack message per step: two chains × (alert + reply), replies threaded.
    assert len(hub.slack.messages) == 4
    second_alert, second_reply = hub.slack.messages[2:]
    assert second_reply["thread_ts"] == second_alert["ts"]
    assert len(hub.clay.rows["priority"]) == 2
    updated = hub.hubspot.sandbox.store.records["contacts"][contact]["properties"]
    assert updated["industry"] == "Computer Software"  # from Clay's findings
