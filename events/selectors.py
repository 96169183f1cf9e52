"""Reads of the event hub, for pages and commands."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from events.models import Delivery, DeliveryState, Event, Execution


def event_tally(*, event_id: int) -> dict[str, int]:
    """The invariant's terms: once nothing is pending, matched = delivered + dead + skipped."""
    event = Event.objects.get(pk=event_id)
    counts = Delivery.objects.filter(event_id=event_id).aggregate(
        delivered=Count("id", filter=Q(state=DeliveryState.DELIVERED)),
        dead=Count("id", filter=Q(state=DeliveryState.DEAD)),
        skipped=Count("id", filter=Q(state=DeliveryState.SKIPPED)),
        pending=Count("id", filter=Q(state__in=[DeliveryState.PENDING, DeliveryState.SENDING])),
    )
    return {"matched": event.matched, **counts}


def deliveries_list(
    *, event_uid: str = "", state: str = "", subscriber: str = ""
) -> QuerySet[Delivery]:
    queryset = Delivery.objects.select_related("event", "subscriber__subscription").order_by("id")
    if event_uid:
        queryset = queryset.filter(
            Q(event__uid=event_uid) if "-" in event_uid else Q(event_id=event_uid)
        )
    if state:
        queryset = queryset.filter(state=state)
    if subscriber:
        queryset = queryset.filter(subscriber__name=subscriber)
    return queryset


def executions_list(*, state: str = "") -> QuerySet[Execution]:
    queryset = Execution.objects.select_related("definition").order_by("-id")
    return queryset.filter(state=state) if state else queryset
