"""Routing after HubSpot says "come back in hours": a DAILY 429 or a long 477 parks the events
with the connection paused until the reset, instead of a Celery countdown beyond the broker's
visibility timeout; short waits are retried with capped countdowns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.errors import RateLimited, ServerError
from integrations.models import ConnectionStatus
from pipelines.models import InboundEvent
from pipelines.routing import tasks
from pipelines.routing.intake import (
    ROUTING_MAX_COUNTDOWN,
    routing_events_store,
    routing_events_sweep,
    routing_retry_plan,
)
from tests.routing.conftest import contact_seed, mql_event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("error", "retries", "plan"),
    [
        (RateLimited("daily", daily=True, retry_after=50_000), 0, ("park", 50_000)),
        (ServerError("477 migration", status=477, retry_after=86_400), 0, ("park", 86_400)),
        (RateLimited("ten-secondly", retry_after=10), 0, ("retry", 10)),
        (ServerError("503"), 2, ("retry", 60)),
        (ServerError("503"), 9, ("retry", ROUTING_MAX_COUNTDOWN)),  # 15·2⁹ s capped
        (RateLimited("hint of 11 min", retry_after=660), 0, ("park", 660)),
    ],
)
def test_the_retry_plan(error, retries, plan):
    assert routing_retry_plan(error=error, retries=retries) == plan


def stranded_dispatches(monkeypatch) -> list[list[int]]:
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.routing_events_process_task, "delay", sent.append)
    return sent


def test_a_spent_daily_quota_parks_the_events_until_the_portals_midnight(
    sandbox, routing, owners, monkeypatch
):
    contact = contact_seed(sandbox, country="GB")
    [event_id] = routing_events_store(config=routing, events=[mql_event(contact)])
    InboundEvent.objects.filter(pk=event_id).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    sandbox.configure(daily_limit=sandbox.limits.daily_used)  # the next call is a DAILY 429

    assert tasks.routing_events_process_task.apply(args=[[event_id]]).get() == 0

    connection = routing.hubspot_connection
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.WAITING_FOR_QUOTA
    hours = (connection.paused_until - timezone.now()).total_seconds() / 3600
    assert 0 < hours <= 24
    assert InboundEvent.objects.get(pk=event_id).processed_at is None  # parked, not lost
    sent = stranded_dispatches(monkeypatch)
    routing_events_sweep()
    assert sent == []  # the sweeper leaves parked events alone while the connection waits

    connection.paused_until = timezone.now() - timedelta(seconds=1)  # the reset has passed
    connection.save()
    routing_events_sweep()
    assert sent == [[event_id]]
