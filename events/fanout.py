"""Fan-out: one stored event → one delivery row per matched subscriber.

Every matched subscriber gets a row, filtered ones included (state ``skipped`` with the
reason), so each event adds up: matched = delivered + dead-lettered + skipped once nothing
is pending. Re-running the fan-out of an event creates nothing twice (unique (event,
subscriber), ignore_conflicts).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.dead_letters import delivery_letters_file
from events.models import Delivery, DeliveryState, Event, Subscriber, Subscription
from events.payloads import fields_referenced, payload_render
from events.triggers import EventView, Rule, TriggerSpec, trigger_filter_reason, trigger_matches
from integrations.errors import ProviderError

logger = logging.getLogger(__name__)


# Read for every HubSpot event that has subscribers to serve, so a receiver gets the deal's
# name and amount even when no template names them.
OBJECT_PROPERTIES = {
    "deal": ("dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id"),
    "contact": ("email", "firstname", "lastname", "company", "lifecyclestage", "hubspot_owner_id"),
    "company": ("name", "domain", "industry", "hubspot_owner_id"),
}


def idempotency_key(event: Event, subscriber_id: int) -> str:
    """Stable for the life of the delivery: sent as webhook-id, Idempotency-Key and HubSpot
    objectWriteTraceId. Hash of (event, subscriber), so it never reveals either."""
    digest = hashlib.sha256(f"{event.uid}:{subscriber_id}".encode()).hexdigest()[:32]
    return f"dlv_{digest}"


def trigger_spec(subscription: Subscription) -> TriggerSpec:
    return TriggerSpec(
        source=subscription.source,
        event_type=subscription.event_type,
        object_type=subscription.object_type,
        property_name=subscription.property_name,
        from_value=subscription.from_value,
        to_value=subscription.to_value,
        conditions=tuple(Rule(c.field, c.operator, c.value) for c in subscription.conditions.all()),
    )


def event_view(event: Event) -> EventView:
    return EventView(
        source=event.source,
        type=event.type,
        object_type=event.object_type,
        property_name=event.property_name,
        property_value=event.property_value,
        previous_value=event.previous_value,
        fields=event.fields or {},
    )


def _subscriptions() -> list[Subscription]:
    return list(
        Subscription.objects.filter(enabled=True).prefetch_related(
            "conditions", "subscribers__connection"
        )
    )


def subscriptions_enabled() -> list[Subscription]:
    """Load once per batch of events and pass to event_fan_out (3 queries, not 3 per event)."""
    return _subscriptions()


def events_fan_out_batch(*, event_ids: list[int]) -> int:
    """Fan these events out, wake the subscribers that got work, start the chains they
    trigger; the number of subscribers woken. Idempotent: an event fanned out already is
    skipped, a chain already started for an event is not started again."""
    from events.executions.engine import executions_start_for_events
    from events.wakeups import subscribers_wake

    subscriptions = subscriptions_enabled()
    specs = [trigger_spec(s) for s in subscriptions]
    matched: list[int] = []
    unmatched: list[int] = []
    # Events no subscription listens to are marked done together, one UPDATE for the batch
    # (a burst of webhooks with nobody subscribed costs no per-event work); the others are
    # fanned out together, in one transaction (events_fan_out).
    for event in Event.objects.filter(pk__in=event_ids, fanned_out_at__isnull=True).order_by("id"):
        view = event_view(event)
        (matched if any(trigger_matches(spec, view) for spec in specs) else unmatched).append(
            event.pk
        )
    if unmatched:
        Event.objects.filter(pk__in=unmatched, fanned_out_at__isnull=True).update(
            fanned_out_at=timezone.now(), matched=0
        )
    woken = events_fan_out(event_ids=matched, subscriptions=subscriptions) if matched else []
    subscribers_wake(subscriber_ids=woken)
    executions_start_for_events(event_ids=event_ids)
    return len(woken)


def events_fan_out_due(*, limit: int = 500) -> int:
    """Fan out every stored event not fanned out yet, oldest first, ``limit`` at a time (what
    a coalesced wake-up asks for); the number of events looked at. Two workers doing it at
    once fan each event out once (event_fan_out's guarded update)."""
    done = 0
    while True:
        ids = list(
            Event.objects.filter(fanned_out_at__isnull=True)
            .order_by("received_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return done
        events_fan_out_batch(event_ids=ids)
        done += len(ids)
        if len(ids) < limit:
            return done


def event_fan_out(*, event_id: int, subscriptions: list[Subscription] | None = None) -> list[int]:
    """Create the event's deliveries; return the ids of subscribers that have work now."""
    return events_fan_out(event_ids=[event_id], subscriptions=subscriptions, raise_errors=True)


def events_fan_out(
    *,
    event_ids: list[int],
    subscriptions: list[Subscription] | None = None,
    raise_errors: bool = False,
) -> list[int]:
    """Fan out a batch of events in one transaction (one commit, one INSERT of deliveries);
    return the ids of subscribers that have work now. An event already fanned out (by the
    sweeper, a repeated message) is left alone; one whose object cannot be read now is left
    for the sweeper, unless ``raise_errors``."""
    events = list(Event.objects.filter(pk__in=event_ids, fanned_out_at__isnull=True).order_by("id"))
    if not events:
        return []
    subscriptions = _subscriptions() if subscriptions is None else subscriptions
    chain_fields: dict[tuple[str, ...], set[str]] = {}
    now = timezone.now()
    deadline = now + timedelta(
        seconds=getattr(settings, "EVENTS_DELIVERY_DEADLINE_SECONDS", 28 * 3600)
    )
    planned: dict[int, tuple[Event, list[Delivery]]] = {}
    for event in events:
        matched = [s for s in subscriptions if trigger_matches(trigger_spec(s), event_view(event))]
        # Conditions and templates may name the object's properties: read them first.
        try:
            fields = _fields_with_object(event, matched, chain_fields)
        except ProviderError:
            if raise_errors:
                raise
            logger.warning("event %s: object not readable now; the sweeper retries", event.uid)
            continue
        event.fields = fields
        view = event_view(event)
        plans: list[tuple[Subscriber, str]] = []
        for subscription in matched:
            reason = trigger_filter_reason(trigger_spec(subscription), view)
            plans += [(s, reason) for s in subscription.subscribers.all()]
        rows = [_delivery_row(event, s, reason, fields, now, deadline) for s, reason in plans]
        planned[event.pk] = (event, rows)
    with transaction.atomic():
        # Ours are the events nobody fanned out meanwhile (a sweeper, a repeated message).
        won = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(planned), fanned_out_at__isnull=True)
            .values_list("pk", flat=True)
        )
        rows = [row for pk in won for row in planned[pk][1]]
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        updated = []
        for pk in won:
            event, event_rows = planned[pk]
            event.fanned_out_at, event.matched = now, len(event_rows)
            updated.append(event)
        Event.objects.bulk_update(updated, ["fanned_out_at", "matched", "fields"])
        dead_events = [
            pk for pk in won if any(r.state == DeliveryState.DEAD for r in planned[pk][1])
        ]
        if dead_events:
            # A payload that cannot be rendered is a dead letter from the start.
            dead = Delivery.objects.filter(event_id__in=dead_events, state=DeliveryState.DEAD)
            delivery_letters_file(delivery_ids=list(dead.values_list("pk", flat=True)))
    return sorted({row.subscriber_id for row in rows if row.state == DeliveryState.PENDING})


def _delivery_row(
    event: Event, subscriber: Subscriber, reason: str, fields: dict, now: Any, deadline: Any
) -> Delivery:
    payload: dict[str, Any] = {}
    state = DeliveryState.SKIPPED if reason else DeliveryState.PENDING
    if not reason:
        try:
            payload = payload_render(
                kind=subscriber.kind,
                options=subscriber.options or {},
                event=_event_summary(event),
                fields=fields,
            )
        except (KeyError, ValueError) as problem:  # a subscriber misconfigured since apply
            state, reason = DeliveryState.DEAD, f"cannot render the payload: {problem}"
    ordering_key = f"{event.object_type}:{event.object_id}" if subscriber.ordered else ""
    return Delivery(
        event=event,
        subscriber=subscriber,
        state=state,
        skip_reason=reason if state == DeliveryState.SKIPPED else "",
        last_error=reason if state == DeliveryState.DEAD else "",
        error_category="invalid_payload" if state == DeliveryState.DEAD else "",
        dead_at=now if state == DeliveryState.DEAD else None,
        ordering_key=ordering_key if event.object_id else "",
        idempotency_key=idempotency_key(event, subscriber.pk),
        payload=payload,
        next_attempt_at=now if state == DeliveryState.PENDING else None,
        deadline=deadline,
        created_at=now,
    )


def _event_summary(event: Event) -> dict[str, Any]:
    return {
        "uid": str(event.uid),
        "type": event.type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "occurred_at": event.occurred_at.isoformat(),
    }


def _fields_with_object(
    event: Event, subscriptions: list[Subscription], chain_fields: dict | None = None
) -> dict[str, Any]:
    """A HubSpot event names only the property that changed; templates also want the deal's
    name and amount. Read them from the portal once per event (docs/events.md, "Templates")."""
    fields = dict(event.fields or {})
    if not subscriptions:
        return fields
    wanted = set(OBJECT_PROPERTIES.get(event.object_type, ()))
    for subscription in subscriptions:
        wanted |= {c.field for c in subscription.conditions.all()}
        for subscriber in subscription.subscribers.all():
            wanted |= fields_referenced(subscriber.kind, subscriber.options or {})
    names = tuple(sorted(s.name for s in subscriptions))
    if chain_fields is None:
        chain_fields = {}
    if names not in chain_fields:  # once per batch of events, not once per event
        chain_fields[names] = _chain_fields(names)
    wanted |= chain_fields[names]
    missing = sorted(name for name in wanted - set(fields) if "." not in name)
    if event.source_kind != "hubspot" or not missing or not event.object_id:
        return fields
    from events.objects import hubspot_object_properties

    try:
        fields.update(
            hubspot_object_properties(
                connection_name=event.source,
                object_type=event.object_type,
                object_id=event.object_id,
                properties=missing,
            )
        )
    except ProviderError as error:
        if not error.permanent:
            raise  # the sweeper fans this event out again in a few seconds
        logger.warning("event %s: could not read the %s: %s", event.uid, event.object_type, error)
    return fields


def _chain_fields(subscription_names: tuple[str, ...]) -> set[str]:
    """Names the steps of chains started by these subscriptions use in their templates."""
    from events.models import WorkflowDefinition
    from events.triggers import template_names

    names: set[str] = set()
    definitions = WorkflowDefinition.objects.filter(trigger_subscription__in=subscription_names)
    for definition in definitions:
        names |= template_names(json.dumps(definition.steps))
    return names
