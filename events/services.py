"""Entry points shared by the commands and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from events.fanout import event_fan_out
from events.intake import drafts_for_source, events_store
from events.models import Delivery, DeliveryState
from integrations.models import Connection


@dataclass(frozen=True)
class EmitResult:
    events: int
    deliveries: int
    duplicates: int


def events_emit(*, source: str, payload: Any) -> EmitResult:
    """Take events in the source's own format as if they had just arrived (replays,
    support): store (deduplicated), fan out now, wake the subscribers."""
    connection = Connection.objects.filter(name=source).first()
    if connection is None:
        raise LookupError(f"no connection named {source!r}")
    kind, drafts = drafts_for_source(connection=connection, payload=payload)
    batch = events_store(source=connection.name, kind=kind, drafts=drafts, fan_out_later=False)
    woken: set[int] = set()
    for event in batch.events:
        woken.update(event_fan_out(event_id=event.pk))
    from events.executions.engine import executions_start_for_events
    from events.wakeups import subscribers_wake

    subscribers_wake(subscriber_ids=sorted(woken), debounce=False)
    executions_start_for_events(event_ids=[e.pk for e in batch.events])
    deliveries = (
        Delivery.objects.filter(event__in=batch.events).exclude(state=DeliveryState.SKIPPED).count()
    )
    return EmitResult(events=len(batch.events), deliveries=deliveries, duplicates=batch.duplicates)
