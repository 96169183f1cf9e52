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
from events.senders import BATCHED_KINDS
from integrations.errors import ProviderError
from integrations.registry import request_logs_buffered, request_logs_flush

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
    Returns how many attempts were made. Other subscribers are never touched here.

    Each claimed delivery is one call; the outcomes of a batch are written together (their
    request-log rows too), one commit per batch instead of two per delivery — except for a
    create that takes no idempotency key (Slack, HubSpot creates), recorded right after its
    call, so a worker killed mid-batch resends at most that one (docs/events.md, "How
    delivery works"). A failure is recorded at once, after the successes before it."""
    from events.clients import subscriber_client

    started = clock()
    attempts = 0
    client = None
    try:
        with request_logs_buffered() as logs:
            while clock() - started < budget_seconds:
                subscriber = Subscriber.objects.select_related("connection").get(pk=subscriber_id)
                now = timezone.now()
                limit = _claim_limit(subscriber, now, batch)
                ids = (
                    deliveries_claim(subscriber_id=subscriber_id, limit=limit, now=now)
                    if limit
                    else []
                )
                if not ids:
                    break
                if client is None:
                    client = subscriber_client(subscriber)
                claimed = Delivery.objects.select_related(
                    "subscriber__connection", "event"
                ).in_bulk(ids)
                done, stop = _batch_send(subscriber, [claimed.get(pk) for pk in ids], client, logs)
                attempts += done
                if stop:
                    _release(ids[done:])  # they wait for the circuit to close
                    return attempts
                if limit == 1 and subscriber.state == SubscriberState.PAUSED:
                    break  # the probe's answer decides; the next wake-up carries on
    finally:
        if client is not None and hasattr(client, "close"):
            client.close()
    return attempts


def _batch_send(
    subscriber: Subscriber, deliveries: list[Delivery | None], client: Any, logs: list
) -> tuple[int, bool]:
    """Attempt each claimed delivery in order. Returns (attempts, circuit opened)."""
    # A success needs to close the breaker only after failures: no query while healthy.
    healthy = subscriber.state == SubscriberState.ACTIVE and not subscriber.consecutive_failures
    keyless = subscriber.kind in CREATES
    successes: list[tuple[int, dict, datetime]] = []
    if healthy and subscriber.kind in BATCHED_KINDS and _together(deliveries, client, successes):
        _successes_record(successes, logs)
        return len(deliveries), False
    for position, delivery in enumerate(deliveries):
        if delivery is None or delivery.state != DeliveryState.SENDING:
            continue  # a sweeper or an admin changed it meanwhile
        outcome = _send(delivery, client)
        if isinstance(outcome, ProviderError):
            _successes_record(successes, logs)
            _failure_record(delivery, outcome)
            healthy = False
            if _circuit_open(subscriber.pk):
                return position + 1, True
            continue
        successes.append((delivery.pk, outcome, timezone.now()))
        if keyless or not healthy:
            _successes_record(successes, logs)
        if not healthy:
            subscriber_success_note(subscriber_id=subscriber.pk)
            healthy = True
    _successes_record(successes, logs)
    return len(deliveries), False


def _together(deliveries: list[Delivery | None], client: Any, successes: list) -> bool:
    """A healthy warehouse subscriber's batch as one write. False when it failed: the caller
    then tries each delivery alone, so one bad row does not hold back the others."""
    from events.senders import send_batch

    sending = [d for d in deliveries if d is not None and d.state == DeliveryState.SENDING]
    if len(sending) < 2:
        return False
    try:
        send_batch(deliveries=sending, client=client)
    except (ProviderError, ValueError, KeyError) as error:
        logger.info("batch of %s deliveries failed (%s); sending one by one", len(sending), error)
        return False
    now = timezone.now()
    successes += [(d.pk, {}, now) for d in sending]
    return True


def _send(delivery: Delivery, client: Any) -> dict[str, Any] | ProviderError:
    """One call: what the receiver gave back, or the error that stopped it."""
    from events.senders import send

    try:
        return (
            send(delivery=delivery, client=client, signing_secrets=_secrets(delivery.subscriber))
            or {}
        )
    except ProviderError as error:
        return error
    except (ValueError, KeyError) as error:  # a payload edited into a shape we cannot send
        wrapped = ProviderError(f"cannot send this payload: {error}", permanent=True)
        wrapped.category = "invalid_payload"
        return wrapped


def _successes_record(successes: list[tuple[int, dict, datetime]], logs: list) -> None:
    """The delivered rows and the calls' request-log rows, in one transaction. A row a
    sweeper put back meanwhile (its lease expired) is left as the sweeper left it."""
    if not successes and not logs:
        return
    with transaction.atomic():
        for delivery_id, result, at in successes:
            Delivery.objects.filter(pk=delivery_id, state=DeliveryState.SENDING).update(
                state=DeliveryState.DELIVERED,
                delivered_at=at,
                lease_expires_at=None,
                result=result,
                last_error="",
                error_category="",
                last_status=None,
            )
        request_logs_flush(logs)
    successes.clear()


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
