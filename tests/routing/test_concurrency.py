"""Round robin under two concurrent workers (PostgreSQL): 1,000 leads through the real
service leave every owner within ±1 of the fair share."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.db import connection

from integrations.hubspot.client import HubSpotClient
from integrations.registry import client_config_for, connection_auth
from pipelines.models import RoutingDecision
from pipelines.routing.rules import Lead
from pipelines.routing.services import lead_route
from tests.routing.conftest import contact_seed, sandbox_for_routing

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.USING_POSTGRES,
        reason="row locks need PostgreSQL: SQLite serializes whole transactions, so the race this test looks for cannot happen there",
    ),
    pytest.mark.django_db(transaction=True),
]

PER_WORKER = 500


def test_two_workers_routing_1000_leads_share_them_fairly(routing):
    app = sandbox_for_routing()
    contact_ids = [contact_seed(app, country="US", state="NY") for _ in range(2 * PER_WORKER)]
    hubspot = routing.hubspot_connection
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(ids: list[str]) -> None:
        client = HubSpotClient(
            client_config_for(hubspot),
            connection_auth(hubspot),
            transport=httpx.WSGITransport(app=app),
        )
        try:
            barrier.wait()
            for contact_id in ids:
                lead = Lead(contact_id, {"country": "US", "state": "NY"})
                lead_route(
                    config=routing, lead=lead, hubspot=client, dedupe_key=f"test:{contact_id}"
                )
        except BaseException as error:  # noqa: BLE001 - surfaced below; a thread's exception is otherwise lost
            errors.append(error)
        finally:
            client.close()
            connection.close()

    threads = [threading.Thread(target=worker, args=(contact_ids[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    shares = Counter(RoutingDecision.objects.values_list("owner__hubspot_id", flat=True))
    assert sum(shares.values()) == 2 * PER_WORKER
    fair = 2 * PER_WORKER / 2  # East has two owners
    assert set(shares) == {"12345", "23456"}
    assert all(abs(count - fair) <= 1 for count in shares.values()), shares
    counters = sorted(
        RoutingDecision.objects.values_list("strategy_state__counter_before", flat=True)
    )
    assert counters == list(range(2 * PER_WORKER))  # every turn taken exactly once
