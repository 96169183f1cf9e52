"""Deliveries: claim due rows, make one attempt each, record what happened.

The database is the source of truth (docs/events.md, "How delivery works"): a Celery
message only wakes a worker for one subscriber, which claims that subscriber's due rows
with SELECT … FOR UPDATE SKIP LOCKED, so two workers never send the same row and a lost
message costs one sweep interval. A claimed row carries a lease; a worker killed mid-send
leaves a lease that expires and the sweeper puts the row back.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from events.breaker import subscriber_failure_note, subscriber_success_note
from events.dead_letters import delivery_letters_file
from events.models import Delivery, DeliveryState, Subscriber, SubscriberState
from events.models.hub import OPEN_DELIVERY_STATES
from integrations.errors import ProviderError

logger = logging.getLogger(__name__)

# Svix's published schedule (docs/events.md, "Retries"): immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h — about 27.6 h — each delay ±20 % jitter.
DEFAULT_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
MAX_RETRY_AFTER = 3600  # a longer Retry-After is capped: the deadline still rules


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def retry_schedule(subscriber: Subscriber) -> tuple[int, ...]:
    custom = (subscriber.options or {}).get("retry_schedule")
    if custom:
        return tuple(int(s) for s in custom)
    return tuple(_setting("EVENTS_RETRY_SCHEDULE", DEFAULT_SCHEDULE))


@dataclass(frozen=True)
class Outcome:
    state: str
    next_attempt_at: datetime | None
    category: str


def outcome_decide(
    *,
    error: ProviderError,
    attempts: int,
    schedule: tuple[int, ...],
    deadline: datetime,
    now: datetime,
    creates: bool,
    uniform: Any = random.uniform,
) -> Outcome:
    """A failed attempt → retry later, or dead letter. Pure.

    Permanent errors (4xx: auth, scope, validation) cannot be fixed by repeating them. A
    create that may have been applied (timeout, 5xx after sending) is not repeated blindly:
    Slack and HubSpot creates take no idempotency key, so it waits for a human as
    ``outcome_unknown`` instead of risking a duplicate message or task.
    """
    category = error.category or error.kind
    if error.permanent:
        return Outcome(DeliveryState.DEAD, None, category)
    if creates and error.context.get("maybe_applied"):
        return Outcome(DeliveryState.DEAD, None, "outcome_unknown")
    if attempts >= len(schedule):
        return Outcome(DeliveryState.DEAD, None, "retries_exhausted")
    delay = schedule[attempts] * uniform(1 - JITTER, 1 + JITTER)
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER))
    next_at = now + timedelta(seconds=delay)
    if next_at > deadline:
        return Outcome(DeliveryState.DEAD, None, "deadline_passed")
    return Outcome(DeliveryState.PENDING, next_at, category)


def deliveries_claim(*, subscriber_id: int, limit: int, now: datetime) -> list[int]:
    """Lock and lease up to ``limit`` due deliveries of one subscriber.

    Ordering: a delivery is due only when no older delivery for the same object (its
    ``ordering_key``) to this subscriber is still pending or sending, so a later dealstage
    change is never applied before an earlier one.
    """
    lease = timedelta(seconds=_setting("EVENTS_LEASE_SECONDS", 60))
    older_open = Delivery.objects.filter(
        subscriber_id=OuterRef("subscriber_id"),
        ordering_key=OuterRef("ordering_key"),
        state__in=OPEN_DELIVERY_STATES,
        id__lt=OuterRef("id"),
    )
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(subscriber_id=subscriber_id, state=DeliveryState.PENDING)
            .filter(next_attempt_at__lte=now)
            .filter(Q(ordering_key="") | ~Exists(older_open))
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                state=DeliveryState.SENDING,
                lease_expires_at=now + lease,
                attempts=F("attempts") + 1,
            )
    return ids


def _claim_limit(subscriber: Subscriber, now: datetime, batch: int) -> int:
    """0 while the circuit is open or the subscriber disabled; 1 for the half-open probe."""
    if subscriber.state == SubscriberState.DISABLED:
        return 0
    if subscriber.state == SubscriberState.PAUSED:
        if subscriber.paused_until and subscriber.paused_until > now:
            return 0
        return 1
    return batch


def subscriber_deliver(
    *,
    subscriber_id: int,
    batch: int = 20,
    budget_seconds: float = 20.0,
    clock: Any = time.monotonic,
) -> int:
    """Send this subscriber's due deliveries until none is due or the budget is spent.
    Returns how many attempts were made. Other subscribers are never touched here."""
    from events.clients import subscriber_client

    started = clock()
    attempts = 0
    client = None
    try:
        while clock() - started < budget_seconds:
            subscriber = Subscriber.objects.select_related("connection").get(pk=subscriber_id)
            now = timezone.now()
            limit = _claim_limit(subscriber, now, batch)
            ids = (
                deliveries_claim(subscriber_id=subscriber_id, limit=limit, now=now) if limit else []
            )
            if not ids:
                break
            if client is None:
                client = subscriber_client(subscriber)
            claimed = Delivery.objects.select_related("subscriber__connection", "event").in_bulk(
                ids
            )
            # A success needs to close the breaker only after failures: skip the query when
            # the subscriber was healthy and nothing failed since.
            healthy = (
                subscriber.state == SubscriberState.ACTIVE and not subscriber.consecutive_failures
            )
            for position, delivery_id in enumerate(ids):
                state = delivery_attempt(
                    delivery_id=delivery_id,
                    client=client,
                    delivery=claimed.get(delivery_id),
                    note_success=not healthy,
                )
                healthy = healthy and state == DeliveryState.DELIVERED
                attempts += 1
                if state != DeliveryState.DELIVERED and _circuit_open(subscriber_id):
                    _release(ids[position + 1 :])  # they wait for the circuit to close
                    return attempts
            if limit == 1 and subscriber.state == SubscriberState.PAUSED:
                break  # the probe's answer decides; the next wake-up carries on
    finally:
        if client is not None and hasattr(client, "close"):
            client.close()
    return attempts


def _circuit_open(subscriber_id: int) -> bool:
    return (
        Subscriber.objects.filter(pk=subscriber_id).exclude(state=SubscriberState.ACTIVE).exists()
    )


def _release(ids: list[int]) -> None:
    """Claimed but not attempted: back to pending, the attempt not counted."""
    if ids:
        Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING).update(
            state=DeliveryState.PENDING, lease_expires_at=None, attempts=F("attempts") - 1
        )


def delivery_attempt(
    *, delivery_id: int, client: Any, delivery: Delivery | None = None, note_success: bool = True
) -> str:
    """One attempt of a claimed delivery; records success, retry or dead letter."""
    from events.senders import send

    if delivery is None:
        delivery = Delivery.objects.select_related("subscriber", "event").get(pk=delivery_id)
    if delivery.state != DeliveryState.SENDING:
        return delivery.state  # a sweeper or an admin changed it meanwhile
    subscriber = delivery.subscriber
    try:
        result = send(delivery=delivery, client=client, signing_secrets=_secrets(subscriber))
    except ProviderError as error:
        return _failure_record(delivery, error)
    except (ValueError, KeyError) as error:  # a payload edited into a shape we cannot send
        wrapped = ProviderError(f"cannot send this payload: {error}", permanent=True)
        wrapped.category = "invalid_payload"
        return _failure_record(delivery, wrapped)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(
        state=DeliveryState.DELIVERED,
        delivered_at=now,
        lease_expires_at=None,
        result=result or {},
        last_error="",
        error_category="",
        last_status=None,
    )
    if note_success:
        subscriber_success_note(subscriber_id=subscriber.pk)
    return DeliveryState.DELIVERED


CREATES = {"slack", "hubspot_task", "hubspot_note", "hubspot_record"}


def _failure_record(delivery: Delivery, error: ProviderError) -> str:
    subscriber = delivery.subscriber
    now = timezone.now()
    outcome = outcome_decide(
        error=error,
        attempts=delivery.attempts,
        schedule=retry_schedule(subscriber),
        deadline=delivery.deadline,
        now=now,
        creates=subscriber.kind in CREATES,
    )
    fields: dict[str, Any] = {
        "state": outcome.state,
        "next_attempt_at": outcome.next_attempt_at,
        "lease_expires_at": None,
        "last_error": str(error)[:300],
        "last_status": error.status,
        "error_category": outcome.category[:60],
    }
    if outcome.state == DeliveryState.DEAD:
        fields["dead_at"] = now
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(
            **fields
        )
        if changed and outcome.state == DeliveryState.DEAD:
            delivery_letters_file(delivery_ids=[delivery.pk])
    # A refused payload is the event's problem, not the subscriber's: it does not trip the
    # breaker. Auth and availability problems do; 410 Gone disables the subscriber.
    gone = error.status == 410
    if gone or outcome.category not in ("invalid_payload", "validation", "rejected"):
        subscriber_failure_note(subscriber_id=subscriber.pk, error=str(error)[:300], gone=gone)
    # Dead letters of internal events raise no further event: a failing alert subscriber
    # would otherwise feed itself forever.
    if outcome.state == DeliveryState.DEAD and delivery.event.source_kind != "internal":
        from events.intake import internal_event_emit
        from events.receivers import internal_listeners_exist

        if not internal_listeners_exist():
            return outcome.state

        internal_event_emit(
            type="delivery.dead_lettered",
            object_type="delivery",
            object_id=delivery.pk,
            fields={"subscriber": subscriber.name, "category": outcome.category},
        )
    elif outcome.next_attempt_at is not None:
        from events.wakeups import subscriber_wake_later

        subscriber_wake_later(subscriber_id=subscriber.pk, at=outcome.next_attempt_at)
    return outcome.state


def _secrets(subscriber: Subscriber) -> list[str]:
    """The subscriber's own whsec_ secrets, else its connection's client secret field (one
    per line: during a rotation both keys sign, and the receiver accepts either)."""
    raw = subscriber.signing_secret or subscriber.connection.client_secret or ""
    return [s for s in raw.split() if s]
