"""Thin Celery tasks. A message only wakes a worker; the rows say what to do, so a lost or
repeated message changes nothing (docs/events.md, "How delivery works")."""

from __future__ import annotations

from celery import shared_task

from events.delivery import subscriber_deliver
from events.executions.tasks import execution_advance_task  # noqa: F401 - registers it
from events.fanout import events_fan_out, subscriptions_enabled
from events.sweep import deliveries_sweep
from events.wakeups import subscribers_wake


@shared_task(name="events.fan_out")
def events_fan_out_task(event_ids: list[int]) -> int:
    woken = events_fan_out(event_ids=event_ids, subscriptions=subscriptions_enabled())
    subscribers_wake(subscriber_ids=woken)
    from events.executions.engine import executions_start_for_events

    executions_start_for_events(event_ids=event_ids)
    return len(woken)


@shared_task(name="events.subscriber_deliver")
def subscriber_deliver_task(subscriber_id: int) -> int:
    return subscriber_deliver(subscriber_id=subscriber_id)


@shared_task(name="events.deliveries_sweep")
def deliveries_sweep_task() -> dict[str, int]:
    return deliveries_sweep()
