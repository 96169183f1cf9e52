"""Two workers serving one subscriber at once (PostgreSQL): SKIP LOCKED claims are disjoint,
so every delivery reaches the receiver exactly once, and deliveries about one deal still
arrive in event order."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from events.delivery import subscriber_deliver
from events.fanout import event_fan_out
from events.intake import events_store, hubspot_drafts
from events.models import Delivery, Subscriber
from pipelines.configuration import config_apply
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.USING_POSTGRES,
        reason="row locks need PostgreSQL: SQLite serializes whole transactions",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_two_workers_deliver_each_event_once_and_keep_each_deals_order(hub):
    deals = hub.hubspot.sandbox.seed_objects(
        "deals", [{"dealname": f"Deal {i}", "amount": "100"} for i in range(20)]
    )
    config_apply(text=DEAL_WON_YAML.replace("to: closedwon", "to: ''"))
    stages = ["qualifiedtobuy", "contractsent", "closedwon"]
    batch = [
        deal_stage_event(deal_id=deal, stage=stage, event_id=n * 10 + s, occurred_at=1000 * n + s)
        for n, deal in enumerate(deals)
        for s, stage in enumerate(stages)
    ]
    stored = events_store(source="hubspot-main", kind="hubspot", drafts=hubspot_drafts(batch))
    for event in stored.events:
        event_fan_out(event_id=event.pk)
    finance = Subscriber.objects.get(name="invoice")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                subscriber_deliver(subscriber_id=finance.pk, batch=5)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Delivery.objects.filter(subscriber=finance, state="delivered").count() == 60
    stats = hub.finance.stats()
    assert stats["unique"] == 60
    assert stats["duplicates"] == 0
    for deal in deals:
        seen = [b["data"]["value"] for b in hub.finance.bodies if b["data"]["object_id"] == deal]
        assert seen == stages
