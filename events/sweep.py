"""The sweeper: what a lost Celery message or a killed worker left behind, put right.

Runs every few seconds (django-celery-beat). Everything it does is idempotent: a lease
that expired goes back to pending, an event never fanned out is fanned out, every
subscriber with due work is woken.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from events.fanout import events_fan_out
from events.models import Delivery, DeliveryState, Event

FAN_OUT_GRACE = timedelta(seconds=5)


def deliveries_sweep(*, now=None) -> dict[str, int]:  # noqa: ANN001 - datetime or None
    now = now or timezone.now()
    with transaction.atomic():
        released = Delivery.objects.filter(
            state=DeliveryState.SENDING, lease_expires_at__lt=now
        ).update(state=DeliveryState.PENDING, next_attempt_at=now, lease_expires_at=None)
    stale = list(
        Event.objects.filter(fanned_out_at__isnull=True, received_at__lt=now - FAN_OUT_GRACE)
        .order_by("id")
        .values_list("pk", flat=True)[:500]
    )
    # In batches of 100, like the fan-out task: one transaction each, not one per event.
    woken: set[int] = set()
    for start in range(0, len(stale), 100):
        woken.update(events_fan_out(event_ids=stale[start : start + 100]))
    due = set(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .values_list("subscriber_id", flat=True)
        .distinct()
    )
    from events.wakeups import subscribers_wake

    subscribers_wake(subscriber_ids=sorted(woken | due), debounce=False)
    from events.executions.engine import executions_sweep

    timed_out = executions_sweep(now=now)
    return {
        "released": released,
        "fanned_out": len(stale),
        "woken": len(woken | due),
        "timed_out": timed_out,
    }
