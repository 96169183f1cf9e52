"""Dead-lettered deliveries: review, edit the payload, redeliver one, a selection or all.

A dead delivery has its letter in the dead-letter queue (events/dead_letters.py); the row
keeps what would be sent, every error and its attempts. Redelivering puts it back to pending with a fresh
deadline (its idempotency key unchanged, so a receiver that saw an earlier attempt
recognises it) and resolves its open letter; redelivering a delivery that is not dead does
nothing. Every action is
audited, with property names only (the values may be personal data).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from audit.services import audit_event_record
from events.dead_letters import (
    deliveries_redeliverable,
    delivery_letter_payload_sync,
    delivery_letters_resolve,
)
from events.models import Delivery, DeliveryState


def delivery_payload_edit(*, delivery_id: int, payload: dict[str, Any], actor: Any) -> Delivery:
    if not isinstance(payload, dict):
        raise ValueError("the payload must be an object")
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.state != DeliveryState.DEAD:
            raise ValueError(
                f"delivery {delivery.pk} is {delivery.state}; only dead letters are edited"
            )
        before = delivery.payload
        if delivery.original_payload is None:
            delivery.original_payload = before
        delivery.payload = payload
        delivery.edited_by = actor if getattr(actor, "pk", None) else None
        delivery.save(update_fields=["payload", "original_payload", "edited_by"])
        delivery_letter_payload_sync(delivery=delivery, now=timezone.now())
        audit_event_record(
            action="event_delivery.edited",
            actor=actor if getattr(actor, "pk", None) else None,
            obj=delivery,
            metadata={"keys_changed": _changed_keys(before, payload)},
        )
    return delivery


def _changed_keys(before: Any, after: Any, prefix: str = "") -> list[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [prefix or "(payload)"] if before != after else []
    keys: list[str] = []
    for key in sorted(set(before) | set(after)):
        keys += _changed_keys(before.get(key), after.get(key), f"{prefix}{key}.")
    return [k.rstrip(".") for k in keys]


def deliveries_redeliver(*, delivery_ids: list[int], actor: Any) -> int:
    """Put dead deliveries back in line; returns how many. Wakes their subscribers."""
    return _redeliver(Delivery.objects.filter(pk__in=delivery_ids), actor=actor)


def dead_letters_redeliver(*, subscriber_name: str = "", actor: Any) -> int:
    """Every dead delivery (of one subscriber, by name, if given), oldest first; not those
    whose letter an admin ignored in the dead-letter queue."""
    queryset = deliveries_redeliverable(Delivery.objects.filter(state=DeliveryState.DEAD))
    if subscriber_name:
        queryset = queryset.filter(subscriber__name=subscriber_name)
    return _redeliver(queryset, actor=actor)


def _redeliver(queryset: QuerySet[Delivery], *, actor: Any) -> int:
    now = timezone.now()
    deadline = now + timedelta(seconds=settings.EVENTS_DELIVERY_DEADLINE_SECONDS)
    with transaction.atomic():
        rows = list(
            queryset.select_for_update(skip_locked=True)
            .filter(state=DeliveryState.DEAD)
            .order_by("id")
            .values_list("pk", "subscriber_id")
        )
        ids = [pk for pk, _ in rows]
        Delivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.PENDING,
            next_attempt_at=now,
            deadline=deadline,
            attempts=0,
            dead_at=None,
            redeliveries=F("redeliveries") + 1,
        )
        letters = delivery_letters_resolve(delivery_ids=ids, actor=actor, now=now) if ids else []
        if ids:
            audit_event_record(
                action="event_delivery.redelivered",
                actor=actor if getattr(actor, "pk", None) else None,
                actor_label="" if getattr(actor, "pk", None) else str(actor),
                object_type="events.delivery",
                object_id=",".join(map(str, ids))[:100],
                metadata={
                    "deliveries": ids[:500],
                    "count": len(ids),
                    "dead_letters": letters[:500],
                },
            )
        from events.wakeups import subscribers_wake

        subscribers_wake(subscriber_ids=sorted({sid for _, sid in rows}), debounce=False)
    return len(ids)
