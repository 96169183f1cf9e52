"""A burst of webhook deliveries to the event hub costs no Celery message per request: the
request that opens a one-second window wakes the fan-out now and once more at the window's
end, and each wake-up fans out every event stored and not fanned out yet."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from events import wakeups
from events.fanout import events_fan_out_due
from events.models import Delivery, Event
from pipelines import claims
from pipelines.configuration import config_apply
from tests.events.conftest import DEAL_WON_YAML, HUBSPOT_CLIENT_SECRET, deal_stage_event
from tests.events.test_inbound import post_hubspot
from tests.integrations.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_wake_windows")]


@pytest.fixture
def hubspot_source(db):
    return ConnectionFactory(name="hubspot-main", client_secret=HUBSPOT_CLIENT_SECRET)


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    messages: list[tuple] = []

    def capture(name, *args, countdown=None):
        messages.append((name, args, countdown))

    monkeypatch.setattr(wakeups, "enqueue_on_commit", capture)
    return messages


def test_a_burst_of_hubspot_deliveries_wakes_the_fan_out_twice_not_once_per_request(
    client, hubspot_source, sent
):
    answers = [
        post_hubspot(client, json.dumps([deal_stage_event(deal_id=str(n), stage="s")]).encode())
        for n in range(6)
    ]

    assert [a.status_code for a in answers] == [202] * 6
    assert Event.objects.filter(fanned_out_at__isnull=True).count() == 6
    assert sent == [
        ("events.fan_out_due", (), None),
        ("events.fan_out_due", (), wakeups.FAN_OUT_WINDOW_SECONDS),
    ]


def test_a_retried_delivery_stores_nothing_and_wakes_nothing(client, hubspot_source, sent):
    body = json.dumps([deal_stage_event(deal_id="7", stage="s")]).encode()
    post_hubspot(client, body)
    sent.clear()
    claims._windows_open.clear()
    cache.clear()

    retry = post_hubspot(client, body)

    assert retry.status_code == 200
    assert Event.objects.count() == 1
    assert sent == []


def test_a_wake_up_fans_out_every_stored_event_once(client, hub, sent):
    deal = hub.hubspot.sandbox.seed_objects(
        "deals", [{"dealname": "Acme renewal", "amount": "12000", "dealstage": "contractsent"}]
    )[0]
    config_apply(text=DEAL_WON_YAML)
    start = 1_767_225_600_000
    # Contact changes: no subscription of the deal-won chain listens to them.
    others = [
        {
            **deal_stage_event(deal_id=str(100 + n), stage="", event_id=n, occurred_at=start),
            "subscriptionType": "contact.propertyChange",
            "propertyName": "lifecyclestage",
            "propertyValue": f"stage-{n}",
        }
        for n in range(3)
    ]
    won = deal_stage_event(deal_id=deal, stage="closedwon", event_id=9, occurred_at=start)
    for event in [*others, won]:
        post_hubspot(client, json.dumps([event]).encode())

    assert events_fan_out_due() == 4
    assert events_fan_out_due() == 0  # a second wake-up finds nothing left

    assert Event.objects.filter(fanned_out_at__isnull=True).count() == 0
    matched = dict(Event.objects.values_list("property_value", "matched"))
    assert matched == {"closedwon": 5, "stage-0": 0, "stage-1": 0, "stage-2": 0}
    assert Delivery.objects.filter(event__property_value="closedwon").count() == 5
    assert not Delivery.objects.exclude(event__property_value="closedwon").exists()
