"""Wake-ups the event hub sends: each names a task by its registered name (pipelines.enqueue),
so no service module imports a tasks module. A message only wakes a worker; the rows say what
to do, so a lost or repeated message changes nothing (docs/events.md, "How delivery works")."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from pipelines.enqueue import enqueue_on_commit

SUBSCRIBER_DELIVER = "events.subscriber_deliver"
FAN_OUT = "events.fan_out"
EXECUTION_ADVANCE = "events.execution_advance"

# Many events arriving together wake each subscriber once, not once per event.
WAKE_DEBOUNCE_SECONDS = 1


def subscribers_wake(*, subscriber_ids: list[int], debounce: bool = True) -> None:
    """Send one wake-up per subscriber once the current transaction commits."""
    for subscriber_id in subscriber_ids:
        if debounce and not cache.add(
            f"events:wake:{subscriber_id}", 1, timeout=WAKE_DEBOUNCE_SECONDS
        ):
            continue
        enqueue_on_commit(SUBSCRIBER_DELIVER, subscriber_id)


def subscriber_wake_later(*, subscriber_id: int, at: datetime) -> None:
    """A retry's wake-up; if the message is lost, the sweeper wakes it anyway."""
    countdown = max(0.0, (at - timezone.now()).total_seconds())
    enqueue_on_commit(SUBSCRIBER_DELIVER, subscriber_id, countdown=countdown)
