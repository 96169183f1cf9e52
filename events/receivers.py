"""Internal events: the product's own happenings (run finished, dead letter created, routing
decided) become hub events, so they can be routed like any other (docs/events.md).

Connected to post_save, emitted after the sender's transaction commits so a hub failure can
never roll back a run. Only when some enabled subscription listens to source "internal":
otherwise the check costs one cached flag.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from pipelines.models import DeadLetter, RoutingDecision, Run

logger = logging.getLogger(__name__)
LISTENING_CACHE_SECONDS = 10


def internal_listeners_exist() -> bool:
    cached = cache.get("events:internal-listeners")
    if cached is None:
        from events.models import Subscription

        cached = Subscription.objects.filter(enabled=True, source="internal").exists()
        cache.set("events:internal-listeners", cached, LISTENING_CACHE_SECONDS)
    return bool(cached)


def _emit_on_commit(**kwargs: Any) -> None:
    if not internal_listeners_exist():
        return

    def emit() -> None:
        from events.intake import internal_event_emit

        try:
            internal_event_emit(**kwargs)
        except Exception:  # the hub must never break the pipeline that raised the event
            logger.exception("could not store internal event %s", kwargs.get("type"))

    transaction.on_commit(emit)


@receiver(post_save, sender=Run, dispatch_uid="events.run_finished")
def run_finished(sender: type, instance: Run, **kwargs: Any) -> None:
    if instance.finished_at is None:
        return
    _emit_on_commit(
        type="run.finished",
        object_type="run",
        object_id=instance.pk,
        fields={
            "workflow": instance.workflow.slug,
            "status": instance.status,
            "records_in": instance.records_in,
            "succeeded": instance.succeeded,
            "dead_lettered": instance.dead_lettered,
        },
    )


@receiver(post_save, sender=DeadLetter, dispatch_uid="events.dead_letter_created")
def dead_letter_created(sender: type, instance: DeadLetter, created: bool, **kwargs: Any) -> None:
    # A delivery's own letter is announced as delivery.dead_lettered (events/delivery.py).
    if created and instance.stage != "deliver":
        _emit_on_commit(
            type="dead_letter.created",
            object_type="dead_letter",
            object_id=instance.pk,
            fields={"run": instance.run_id, "category": instance.category, "stage": instance.stage},
        )


@receiver(post_save, sender=RoutingDecision, dispatch_uid="events.routing_decided")
def routing_decided(sender: type, instance: RoutingDecision, **kwargs: Any) -> None:
    if getattr(instance, "status", "") in ("", "pending"):
        return
    _emit_on_commit(
        type="routing.decided",
        object_type="routing_decision",
        object_id=instance.pk,
        fields={
            "contact_id": instance.contact_id,
            "status": getattr(instance, "status", ""),
            "owner": str(instance.owner_id or ""),
            "territory": str(instance.territory_id or ""),
        },
    )
