"""Thin Celery tasks. A message only wakes a worker; the rows say what to do, so a lost or
repeated message changes nothing (docs/events.md, "How delivery works")."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from events.delivery import subscriber_deliver
from events.fanout import event_fan_out, subscriptions_enabled
from events.sweep import deliveries_sweep

# Many events arriving together wake each subscriber once, not once per event.
WAKE_DEBOUNCE_SECONDS = 1


@shared_task(name="events.fan_out")
def events_fan_out_task(event_ids: list[int]) -> int:
    woken: set[int] = set()
    subscriptions = subscriptions_enabled()
    for event_id in event_ids:
        woken.update(event_fan_out(event_id=event_id, subscriptions=subscriptions))
    subscribers_wake(subscriber_ids=sorted(woken))
    from events.executions.engine import executions_start_for_events

    executions_start_for_events(event_ids=event_ids)
    return len(woken)


@shared_task(name="events.subscriber_deliver")
def subscriber_deliver_task(subscriber_id: int) -> int:
    return subscriber_deliver(subscriber_id=subscriber_id)


@shared_task(name="events.deliveries_sweep")
def deliveries_sweep_task() -> dict[str, int]:
    return deliveries_sweep()


def subscribers_wake(*, subscriber_ids: list[int], debounce: bool = True) -> None:
    """Send one wake-up per subscriber once the current transaction commits."""
    for subscriber_id in subscriber_ids:
        if debounce and not cache.add(
            f"events:wake:{subscriber_id}", 1, timeout=WAKE_DEBOUNCE_SECONDS
        ):
            continue
        transaction.on_commit(lambda sid=subscriber_id: subscriber_deliver_task.delay(sid))


def subscriber_wake_later(*, subscriber_id: int, at: datetime) -> None:
    """A retry's wake-up; if the message is lost, the sweeper wakes it anyway."""
    countdown = max(0.0, (at - timezone.now()).total_seconds())
    transaction.on_commit(
        lambda: subscriber_deliver_task.apply_async((subscriber_id,), countdown=countdown)
    )
