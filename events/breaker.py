"""The circuit breaker: a subscriber that keeps failing is paused, with an alert; its
pending deliveries wait (never dropped) and a single probe is let through after the pause.

Counting is per subscriber, reset by any success (docs/events.md, "Circuit breaker").
The alert is an audit event plus an e-mail to ALERT_EMAILS, like a connection that needs
reconnecting; it does not go through the failing path itself.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_event_record
from events.models import Subscriber, SubscriberState

logger = logging.getLogger(__name__)


def _threshold() -> int:
    return int(getattr(settings, "EVENTS_BREAKER_FAILURES", 5))


def _cooldown() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "EVENTS_BREAKER_COOLDOWN_SECONDS", 30)))


def subscriber_failure_note(*, subscriber_id: int, error: str, gone: bool = False) -> None:
    """Count a failed attempt; open the circuit at the threshold (410 Gone disables)."""
    with transaction.atomic():
        Subscriber.objects.filter(pk=subscriber_id).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber_id)
        now = timezone.now()
        if gone and subscriber.state != SubscriberState.DISABLED:
            subscriber.state = SubscriberState.DISABLED
            subscriber.paused_reason = "the receiver answered 410 Gone"
            subscriber.save(update_fields=["state", "paused_reason"])
            _alert(subscriber, action="event_subscriber.disabled", reason=subscriber.paused_reason)
            return
        if subscriber.consecutive_failures < _threshold():
            return
        was_active = subscriber.state == SubscriberState.ACTIVE
        if subscriber.state == SubscriberState.DISABLED:
            return
        subscriber.state = SubscriberState.PAUSED
        subscriber.paused_until = now + _cooldown()
        subscriber.paused_reason = error[:300]
        subscriber.save(update_fields=["state", "paused_until", "paused_reason"])
        if was_active:
            _alert(subscriber, action="event_subscriber.paused", reason=error)


def subscriber_success_note(*, subscriber_id: int) -> None:
    """Any success closes the circuit and clears the failure count. The common case (active,
    no failures) is one UPDATE that matches nothing: no row lock on every success."""
    Subscriber.objects.filter(
        pk=subscriber_id, state=SubscriberState.ACTIVE, consecutive_failures__gt=0
    ).update(consecutive_failures=0)
    if not Subscriber.objects.filter(pk=subscriber_id, state=SubscriberState.PAUSED).exists():
        return
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber_id)
        if subscriber.consecutive_failures == 0 and subscriber.state == SubscriberState.ACTIVE:
            return
        recovered = subscriber.state == SubscriberState.PAUSED
        subscriber.consecutive_failures = 0
        if recovered:
            subscriber.state = SubscriberState.ACTIVE
            subscriber.paused_until = None
            subscriber.paused_reason = ""
        subscriber.save(
            update_fields=["consecutive_failures", "state", "paused_until", "paused_reason"]
        )
        if recovered:
            audit_event_record(
                action="event_subscriber.recovered",
                actor_label="system:events",
                obj=subscriber,
                metadata={"subscription": subscriber.subscription.name},
            )


def subscriber_resume(*, subscriber_id: int, actor: object) -> None:
    """An admin closes the circuit (or re-enables a disabled subscriber) by hand."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber_id)
        subscriber.state = SubscriberState.ACTIVE
        subscriber.consecutive_failures = 0
        subscriber.paused_until = None
        subscriber.paused_reason = ""
        subscriber.save()
        audit_event_record(action="event_subscriber.resumed", actor=actor, obj=subscriber)
    from events.wakeups import subscribers_wake

    subscribers_wake(subscriber_ids=[subscriber_id])


def _alert(subscriber: Subscriber, *, action: str, reason: str) -> None:
    label = f"{subscriber.subscription.name}/{subscriber.name}"
    audit_event_record(
        action=action,
        actor_label="system:events",
        obj=subscriber,
        metadata={"subscription": subscriber.subscription.name, "reason": reason[:300]},
    )
    logger.error("event subscriber %s %s: %s", label, action.rsplit(".", 1)[-1], reason)
    # Deliveries to it wait until it recovers or someone fixes it: tell a human now.
    mail_admins(
        f"Event subscriber {label} {action.rsplit('.', 1)[-1]}",
        f"{reason}\n\nIts pending deliveries are waiting, not dropped. Fix the connection, "
        "then resume the subscriber in Event hub → Subscribers.",
        fail_silently=True,
    )
