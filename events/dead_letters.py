"""Dead-lettered deliveries in the dead-letter queue (pipelines.DeadLetter, stage ``deliver``).

A delivery that gives up (a refused payload, retries or deadline used up, an outcome that
cannot be known) files one letter in the same queue as the pipelines' records: an admin
reviews it there, edits its payload field by field and redelivers one, a selection or all.
The delivery row stays the source of truth for sending: an edit changes both the letter and
the delivery, a redelivery puts the delivery back in line (same idempotency key) and
resolves its letter. pipelines knows nothing of the hub: the queue calls the functions this
module registers (pipelines/dead_letter_kinds.py). Words and flow: docs/events.md,
"Dead letters".
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse

from events.models import Delivery, DeliveryLetter, DeliveryState
from events.payloads import flatten, typed_value, unflatten
from pipelines.dead_letter_kinds import LetterKind, LetterOrigin, letter_kind_register
from pipelines.dead_letter_reasons import error_sentences
from pipelines.models import DeadLetter, DeadLetterResolution, DeadLetterStage

STAGE = DeadLetterStage.DELIVER

# The queue's words for a delivery's letter: what went wrong, and what to do about it.
CATEGORIES = {
    "delivery_refused": "Subscriber refused the delivery",
    "delivery_auth_failed": "Subscriber refused our credentials",
    "delivery_unreachable": "Subscriber unreachable until the deadline",
    "delivery_outcome_unknown": "Delivery outcome unknown",
    "subscriber_gone": "Subscriber address gone (disabled)",
}
FIXES = {
    "delivery_refused": "Correct the value the receiver names in the letter's form and "
    "redeliver it; if every letter of the group fails the same way, fix the subscriber's "
    "settings (Event hub → Subscriptions) and redeliver the group.",
    "delivery_auth_failed": "Renew the subscriber connection's credentials (Connections), "
    "then redeliver every letter of this group.",
    "delivery_unreachable": "Once the receiver answers again (check its connection and the "
    "subscriber's state), redeliver every letter of this group.",
    "delivery_outcome_unknown": "The call may have been applied (Slack and HubSpot creates "
    "take no idempotency key): look in the receiver; redeliver only if it is not there, "
    "otherwise ignore the letter.",
    "subscriber_gone": "The receiver answered 410 Gone and the subscriber was disabled: fix "
    "its address, enable it, then redeliver the group.",
}
_UNREACHABLE = {"retries_exhausted", "deadline_passed", "unreachable", "timed_out"}
_UNREACHABLE |= {"server_error", "rate_limited", "timeout", "connection"}
_AUTH = {"auth_failed", "unauthorized", "missing_scope", "missing_scopes", "forbidden"}


def letter_category(*, error_category: str, status: int | None) -> str:
    """A delivery's error category and last status → the queue's category. Pure."""
    if error_category == "outcome_unknown":
        return "delivery_outcome_unknown"
    if status == 410:
        return "subscriber_gone"
    if status in (401, 403) or error_category in _AUTH:
        return "delivery_auth_failed"
    if error_category in _UNREACHABLE or (status is not None and status >= 500):
        return "delivery_unreachable"
    return "delivery_refused"


def delivery_letters_file(*, delivery_ids: list[int]) -> list[DeadLetter]:
    """A letter for each dead delivery among ``delivery_ids`` that has no open one yet.

    Called right after a delivery turns dead (a failed attempt, or a payload that cannot be
    rendered at fan-out), in the same transaction when there is one; idempotent.
    """
    if not delivery_ids:
        return []
    open_letter = DeliveryLetter.objects.filter(delivery=OuterRef("pk"), dead_letter__resolution="")
    deliveries = list(
        Delivery.objects.filter(pk__in=delivery_ids, state=DeliveryState.DEAD)
        .exclude(Exists(open_letter))
        .select_related("event", "subscriber__subscription")
        .order_by("id")
    )
    letters = [_letter(delivery) for delivery in deliveries]
    with transaction.atomic():
        DeadLetter.objects.bulk_create(letters)
        DeliveryLetter.objects.bulk_create(
            [
                DeliveryLetter(delivery=delivery, dead_letter=letter)
                for delivery, letter in zip(deliveries, letters, strict=True)
            ]
        )
    return letters


def _letter(delivery: Delivery) -> DeadLetter:
    subscriber = delivery.subscriber
    category = letter_category(error_category=delivery.error_category, status=delivery.last_status)
    status = f" (HTTP {delivery.last_status})" if delivery.last_status else ""
    errors = error_sentences([delivery.last_error or delivery.error_category or "gave up"])
    errors = [f"{subscriber.subscription.name}/{subscriber.name}{status}: {errors[0]}", *errors[1:]]
    fields = delivery.event.fields or {}
    email = str(fields.get("email") or "").strip().lower()
    return DeadLetter(
        stage=STAGE,
        category=category,
        errors=errors,
        # Letters of one subscriber refused the same way need the same fix: one group.
        reason=f"{subscriber.subscription.name}/{subscriber.name}: "
        + (f"HTTP {delivery.last_status}" if delivery.last_status else delivery.error_category)[
            :100
        ],
        identity=email if "@" in email else "",
        payload=delivery.payload or {},
        source_row=fields,
        attempts=delivery.attempts,
    )


def delivery_letters_resolve(*, delivery_ids: list[int], actor: Any, now: Any) -> list[int]:
    """The open letters of deliveries just put back in line: resolved as redelivered."""
    letters = list(
        DeadLetter.objects.filter(
            resolution="", delivery_link__delivery_id__in=delivery_ids
        ).values_list("pk", flat=True)
    )
    DeadLetter.objects.filter(pk__in=letters).update(
        resolution=DeadLetterResolution.REPROCESSED,
        resolution_note="redelivered",
        resolved_by=actor if getattr(actor, "pk", None) else None,
        resolved_at=now,
    )
    return letters


def delivery_letter_payload_sync(*, delivery: Delivery, now: Any) -> None:
    """An edited delivery's open letter shows what will be sent."""
    letter = DeadLetter.objects.filter(resolution="", delivery_link__delivery=delivery).first()
    if letter is None:
        return
    if letter.original_payload is None:
        letter.original_payload = letter.payload
    letter.payload, letter.edited_at = delivery.payload, now
    letter.save(update_fields=["payload", "original_payload", "edited_at"])


def deliveries_redeliverable(queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """ "All dead letters" leaves out deliveries whose letter an admin ignored (they are not
    to be sent), unless the delivery has died again since (a newer, open letter)."""
    ignored = DeliveryLetter.objects.filter(
        delivery=OuterRef("pk"), dead_letter__resolution=DeadLetterResolution.IGNORED
    )
    open_letter = DeliveryLetter.objects.filter(delivery=OuterRef("pk"), dead_letter__resolution="")
    return queryset.exclude(Exists(ignored) & ~Exists(open_letter))


# --- what the queue calls (registered in EventsConfig.ready) -------------------------------


def _letter_delivery(dead_letter_id: int) -> Delivery:
    link = DeliveryLetter.objects.select_related("delivery").filter(dead_letter_id=dead_letter_id)
    found = link.first()
    if found is None:
        raise ValueError(f"dead letter {dead_letter_id} is not an event delivery's")
    return found.delivery


def letter_fields(letter: DeadLetter) -> dict[str, Any]:
    return flatten(letter.payload) if letter.payload else {}


def letter_edit(*, dead_letter_id: int, payload: dict[str, str], actor: Any) -> None:
    """The queue's editor posts dotted name → text; numbers, booleans and lists keep their
    type, a box left empty leaves the field out, a new name adds a field."""
    from events.redelivery import delivery_payload_edit

    letter = DeadLetter.objects.get(pk=dead_letter_id)
    if letter.resolution:
        raise ValueError(f"dead letter {letter.pk} is already {letter.resolution}")
    original = letter_fields(letter)
    values = {name: typed_value(text, original.get(name, "")) for name, text in payload.items()}
    delivery = _letter_delivery(dead_letter_id)
    delivery_payload_edit(delivery_id=delivery.pk, payload=unflatten(values), actor=actor)


def letters_redeliver(*, dead_letter_ids: list[int], actor: Any) -> int:
    """Redeliver the deliveries of the open letters among ``dead_letter_ids``."""
    from events.redelivery import deliveries_redeliver

    delivery_ids = list(
        DeliveryLetter.objects.filter(
            dead_letter_id__in=dead_letter_ids, dead_letter__resolution=""
        ).values_list("delivery_id", flat=True)
    )
    return deliveries_redeliver(delivery_ids=delivery_ids, actor=actor) if delivery_ids else 0


def letter_origins(letters: list[DeadLetter]) -> dict[int, LetterOrigin]:
    links = DeliveryLetter.objects.filter(
        dead_letter_id__in=[letter.pk for letter in letters]
    ).select_related("delivery__subscriber__subscription", "delivery__event")
    origins: dict[int, LetterOrigin] = {}
    for link in links:
        delivery, event = link.delivery, link.delivery.event
        subscriber = delivery.subscriber
        origins[link.dead_letter_id] = LetterOrigin(
            where=f"event hub · {subscriber.subscription.name}/{subscriber.name}",
            where_url=reverse("admin:events_delivery_change", args=[delivery.pk]),
            source=f"{event.type} {event.object_id}".strip(),
            source_url=reverse("admin:events_event_change", args=[event.pk]),
        )
    return origins


def letter_kind_delivery_register() -> None:
    letter_kind_register(
        LetterKind(
            stage=STAGE,
            noun="event delivery",
            origins=letter_origins,
            edit=letter_edit,
            redeliver=letters_redeliver,
            fields=letter_fields,
            categories=CATEGORIES,
            fixes=FIXES,
        )
    )
