"""Wake-ups the event hub sends: each names a task by its registered name (pipelines.enqueue),
so no service module imports a tasks module. A message only wakes a worker; the rows say what
to do, so a lost or repeated message changes nothing (docs/events.md, "How delivery works")."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from pipelines.claims import wake_window_open
from pipelines.enqueue import enqueue_on_commit

SUBSCRIBER_DELIVER = "events.subscriber_deliver"
FAN_OUT = "events.fan_out"
FAN_OUT_DUE = "events.fan_out_due"
EXECUTION_ADVANCE = "events.execution_advance"

# Many events arriving together wake each subscriber once, not once per event.
WAKE_DEBOUNCE_SECONDS = 1
# Webhook requests arriving together share their fan-out wake-ups.
FAN_OUT_WINDOW_SECONDS = 1


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


def events_fan_out_wake() -> None:
    """Fan out what the webhooks stored, without a message per request: the request that
    opens a window (one a second, across web processes: pipelines.claims.wake_window_open)
    sends a wake-up now, for a lone event, and one at the window's end, for the events stored
    during it. Each claims every event not fanned out yet (events.fanout.events_fan_out_due);
    the sweeper fans out anything a lost message left behind."""
    if wake_window_open("events:fan_out_due", seconds=FAN_OUT_WINDOW_SECONDS):
        enqueue_on_commit(FAN_OUT_DUE)
        enqueue_on_commit(FAN_OUT_DUE, countdown=FAN_OUT_WINDOW_SECONDS)
