"""One event in, every subscriber served on its own: the deal-won fan-out of docs/events.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from events.delivery import subscriber_deliver
from events.fanout import event_fan_out
from events.intake import events_store, hubspot_drafts
from events.models import Delivery, DeliveryState, Event, Subscriber, SubscriberState
from events.redelivery import deliveries_redeliver, delivery_payload_edit
from events.selectors import event_tally
from pipelines.configuration import config_apply
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(hub):
    [deal_id] = hub.hubspot.sandbox.seed_objects(
        "deals", [{"dealname": "Acme renewal", "amount": "12000", "dealstage": "contractsent"}]
    )
    config_apply(text=DEAL_WON_YAML)
    return deal_id


def fire(*events) -> list[Event]:
    batch = events_store(source="hubspot-main", kind="hubspot", drafts=hubspot_drafts(list(events)))
    for event in batch.events:
        event_fan_out(event_id=event.pk)
    return batch.events


def drain(*, now_shift: timedelta = timedelta(0)) -> None:
    """What the workers do: every subscriber sends what is due (retries made due first)."""
    if now_shift:
        Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
    for subscriber_id in Subscriber.objects.values_list("pk", flat=True):
        subscriber_deliver(subscriber_id=subscriber_id)


def test_deal_won_reaches_all_five_subscribers_once(hub, deal):
    [event] = fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    drain()

    states = dict(Delivery.objects.values_list("subscriber__name", "state"))
    assert states == dict.fromkeys(
        ["sales-channel", "account-signals", "invoice", "onboarding-task", "event-log"], "delivered"
    )
    # The template read the deal's name and amount from the portal (the webhook has neither).
    assert [m["text"] for m in hub.slack.messages] == ["Deal Acme renewal won: 12000"]
    assert hub.slack.messages[0]["channel"] == "#sales"
    [row] = hub.clay.rows["signals"]
    assert row["row"]["dealname"] == "Acme renewal"
    assert hub.finance.stats() == {
        "received": 1,
        "unique": 1,
        "duplicates": 0,
        "rejected": 0,
        "by_path": {"/invoices": 1},
    }
    [task] = hub.hubspot.created
    assert task["properties"]["hs_task_subject"] == "Onboard Acme renewal"
    assert task["associations"][0]["to"]["id"] == deal
    assert task["associations"][0]["types"][0]["associationTypeId"] == 216
    assert list(hub.warehouse.rows["deal_events"]) == [str(event.uid)]
    assert event_tally(event_id=event.pk) == {
        "matched": 5,
        "delivered": 5,
        "dead": 0,
        "skipped": 0,
        "pending": 0,
    }


def test_idempotency_keys_are_sent_where_the_receiver_supports_them(hub, deal):
    fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    drain()
    keys = dict(Delivery.objects.values_list("subscriber__name", "idempotency_key"))
    assert list(hub.finance.ids) == [keys["invoice"]]  # webhook-id
    assert hub.clay.rows["signals"][0]["idempotency_key"] == keys["account-signals"]
    assert hub.hubspot.created[0]["objectWriteTraceId"] == keys["onboarding-task"]


def test_a_hubspot_retry_of_the_same_event_is_stored_once_and_delivered_once(hub, deal):
    first = fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    retry = {**deal_stage_event(deal_id=deal, stage="closedwon"), "attemptNumber": 1}
    again = fire(retry)
    drain()

    assert len(first) == 1
    assert again == []
    assert Event.objects.count() == 1
    assert len(hub.slack.messages) == 1
    assert hub.finance.stats()["received"] == 1


def test_another_stage_is_matched_but_skipped_with_the_reason(hub, deal):
    [event] = fire(deal_stage_event(deal_id=deal, stage="qualifiedtobuy"))
    drain()

    assert hub.slack.messages == []
    assert hub.finance.stats()["received"] == 0
    assert event_tally(event_id=event.pk) == {
        "matched": 5,
        "delivered": 0,
        "dead": 0,
        "skipped": 5,
        "pending": 0,
    }
    reason = Delivery.objects.values_list("skip_reason", flat=True).first()
    assert "'qualifiedtobuy', not 'closedwon'" in reason


def test_a_failing_subscriber_never_delays_the_others_and_retries_honour_retry_after(hub, deal):
    hub.finance.down = True  # 503 with Retry-After: 2
    [event] = fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    before = timezone.now()
    drain()

    invoice = Delivery.objects.get(subscriber__name="invoice")
    assert invoice.state == DeliveryState.PENDING
    assert invoice.attempts == 1
    assert invoice.last_status == 503
    # Schedule says 5 s ±20 % for the 2nd attempt; Retry-After (2 s) is shorter, so 4–6 s.
    assert timedelta(seconds=3.9) <= invoice.next_attempt_at - before <= timedelta(seconds=6.5)
    assert Delivery.objects.filter(state="delivered").count() == 4

    hub.finance.down = False
    drain(now_shift=timedelta(seconds=10))
    assert event_tally(event_id=event.pk)["delivered"] == 5
    assert hub.finance.stats()["received"] == 1


def test_a_refused_payload_becomes_a_dead_letter_that_is_edited_and_redelivered(
    hub, deal, admin_user
):
    hub.hubspot.sandbox.store.update(
        "deals", hub.hubspot.sandbox.store.records["deals"][deal], {"amount": None}
    )
    [event] = fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    drain()

    letter = Delivery.objects.get(subscriber__name="invoice")
    assert letter.state == DeliveryState.DEAD
    assert letter.last_status == 422
    assert hub.finance.stats()["received"] == 0  # nothing accepted, nothing counted
    assert event_tally(event_id=event.pk) == {
        "matched": 5,
        "delivered": 4,
        "dead": 1,
        "skipped": 0,
        "pending": 0,
    }

    body = {**letter.payload["body"], "data": {**letter.payload["body"]["data"], "amount": "12000"}}
    delivery_payload_edit(
        delivery_id=letter.pk, payload={**letter.payload, "body": body}, actor=admin_user
    )
    assert deliveries_redeliver(delivery_ids=[letter.pk], actor=admin_user) == 1
    drain()

    letter.refresh_from_db()
    assert letter.state == DeliveryState.DELIVERED
    assert letter.redeliveries == 1
    assert letter.original_payload["body"]["data"].get("amount") in (None, "")
    assert hub.finance.stats()["received"] == 1
    assert len(hub.slack.messages) == 1  # the others were not sent again
    assert AuditEvent.objects.filter(action="event_delivery.edited").exists()
    assert event_tally(event_id=event.pk)["delivered"] == 5


def test_a_persistently_failing_subscriber_is_paused_with_an_alert_and_its_deliveries_wait(
    hub, deal, settings, mailoutbox
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EVENTS_BREAKER_FAILURES = 3
    settings.EVENTS_RETRY_SCHEDULE = [0] * 20
    hub.slack.down = True
    events = fire(
        *[
            deal_stage_event(
                deal_id=deal, stage="closedwon", event_id=i, occurred_at=1_767_225_600_000 + i
            )
            for i in range(1, 6)
        ]
    )
    for _ in range(4):
        drain(now_shift=timedelta(seconds=1))

    slack = Subscriber.objects.get(name="sales-channel")
    assert slack.state == SubscriberState.PAUSED
    assert slack.consecutive_failures == 3  # paused: no attempt after the third failure
    assert Delivery.objects.filter(subscriber=slack, state="pending").count() == 5
    assert Delivery.objects.filter(subscriber=slack, state="dead").count() == 0
    assert AuditEvent.objects.filter(action="event_subscriber.paused").count() == 1
    assert [m.subject for m in mailoutbox] == [
        "[Switchyard] Event subscriber deal-won-fanout/sales-channel paused"
    ]
    assert Delivery.objects.filter(subscriber__name="invoice", state="delivered").count() == 5

    # After the cool-down one probe goes through; its success closes the circuit.
    hub.slack.down = False
    Subscriber.objects.filter(pk=slack.pk).update(paused_until=timezone.now())
    drain(now_shift=timedelta(seconds=1))
    drain()
    slack.refresh_from_db()
    assert slack.state == SubscriberState.ACTIVE
    assert len(hub.slack.messages) == 5
    assert all(event_tally(event_id=e.pk)["delivered"] == 5 for e in events)


def test_deliveries_for_one_deal_keep_event_order_behind_a_retry(hub, deal):
    config_apply(text=DEAL_WON_YAML.replace("to: closedwon", "to: ''"))
    hub.slack.down = True
    fire(deal_stage_event(deal_id=deal, stage="presentationscheduled", event_id=1, occurred_at=1))
    fire(deal_stage_event(deal_id=deal, stage="closedwon", event_id=2, occurred_at=2))
    drain()

    slack = Delivery.objects.filter(subscriber__name="sales-channel").order_by("id")
    assert [d.attempts for d in slack] == [1, 0]  # the later change waits behind the earlier
    hub.slack.down = False
    drain(now_shift=timedelta(seconds=10))
    drain()
    assert [d.state for d in slack.all()] == ["delivered", "delivered"]
    assert [m["ts"] for m in hub.slack.messages] == sorted(m["ts"] for m in hub.slack.messages)
    event_ids = list(
        Delivery.objects.filter(subscriber__name="sales-channel")
        .order_by("delivered_at")
        .values_list("event__source_event_id", flat=True)
    )
    assert event_ids == ["1", "2"]


def test_a_delivery_past_its_deadline_becomes_a_dead_letter(hub, deal):
    hub.finance.down = True
    fire(deal_stage_event(deal_id=deal, stage="closedwon"))
    Delivery.objects.update(deadline=timezone.now() + timedelta(seconds=1))
    drain()

    invoice = Delivery.objects.get(subscriber__name="invoice")
    assert invoice.state == DeliveryState.DEAD
    assert invoice.error_category == "deadline_passed"


def test_410_gone_disables_the_subscriber_with_an_alert_and_its_later_deliveries_wait(hub, deal):
    import httpx

    from integrations import registry

    registry.TRANSPORT_OVERRIDES["http"] = httpx.MockTransport(lambda request: httpx.Response(410))
    fire(deal_stage_event(deal_id=deal, stage="closedwon", event_id=1, occurred_at=1))
    fire(deal_stage_event(deal_id=deal, stage="closedwon", event_id=2, occurred_at=2))
    drain()

    invoice = Subscriber.objects.get(name="invoice")
    assert invoice.state == SubscriberState.DISABLED
    states = list(
        Delivery.objects.filter(subscriber=invoice).order_by("id").values_list("state", flat=True)
    )
    assert states == ["dead", "pending"]
    assert AuditEvent.objects.filter(action="event_subscriber.disabled").count() == 1


def test_a_batch_of_deliveries_is_written_together_and_every_call_is_still_logged(hub, deal):
    from integrations.models import RequestLog

    deals = hub.hubspot.sandbox.seed_objects(
        "deals", [{"dealname": f"Deal {i}", "amount": "500"} for i in range(3)]
    )
    fire(*[deal_stage_event(deal_id=d, stage="closedwon", event_id=i) for i, d in enumerate(deals)])
    drain()

    assert Delivery.objects.filter(state="delivered").count() == 15
    assert hub.warehouse.upserts == 1  # three rows, one upsert on event_id
    assert len(hub.warehouse.rows["deal_events"]) == 3
    finance = hub.connections["finance-api"]
    assert RequestLog.objects.filter(connection=finance, status=200).count() == 3
    assert hub.finance.stats()["unique"] == 3


def test_a_row_the_batch_cannot_take_is_sent_alone_and_the_others_still_go(hub, deal):
    deals = hub.hubspot.sandbox.seed_objects(
        "deals", [{"dealname": f"Deal {i}", "amount": "500"} for i in range(3)]
    )
    events = fire(
        *[deal_stage_event(deal_id=d, stage="closedwon", event_id=i) for i, d in enumerate(deals)]
    )
    odd = Delivery.objects.get(event=events[1], subscriber__name="event-log")
    odd.payload = {
        **odd.payload,
        "row": {**odd.payload["row"], "extra": "a column the others lack"},
    }
    odd.save(update_fields=["payload"])
    drain()

    assert hub.warehouse.upserts == 3  # the batch refused, then one by one
    assert Delivery.objects.filter(subscriber__name="event-log", state="delivered").count() == 3
