"""Reading the audit log: filters and keyset pages that stay fast on millions of events.

Pages are cut by id (`?before=<id>` / `?after=<id>`), never by OFFSET and never counted: an
OFFSET scan and a COUNT(*) both grow with the table, while "the next 50 below id N" under
an equality filter is one walk of an (column, id) index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent

PAGE_SIZE = 50
EXPORT_CHUNK = 2000


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def as_dict(self) -> dict[str, str]:
        return {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if v
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def audit_event_queryset(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    # Case-insensitive: an auditor types "Alice" or "DEAD_LETTER.reprocessed" from memory.
    if filters.actor:
        qs = qs.filter(actor_label__iexact=filters.actor)
    if filters.action:
        # "auth.*" (or "auth.") selects a family of actions; otherwise the exact action.
        prefix = filters.action.rstrip("*")
        qs = (
            qs.filter(action__istartswith=prefix)
            if filters.action.endswith(("*", "."))
            else qs.filter(action__iexact=filters.action)
        )
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.date_from:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return qs


ACTIONS_CACHE_SECONDS = 300


def audit_actions() -> list[str]:
    """Every action recorded so far, for the filter's list (cached: the set grows rarely)."""
    from django.core.cache import cache

    actions = cache.get("audit:actions")
    if actions is None:
        actions = list(
            AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        )
        cache.set("audit:actions", actions, ACTIONS_CACHE_SECONDS)
    return actions


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    older_than: int | None  # pass as ?before= for the next (older) page
    newer_than: int | None  # pass as ?after= for the previous (newer) page


def audit_event_page(
    *,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    qs = audit_event_queryset(filters=filters)
    if after is not None:
        # Walk up from `after`, then show newest first like every other page.
        rows = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer = len(rows) > size
        events = list(reversed(rows[:size]))
        return AuditPage(
            events,
            events[-1].id if events else None,
            events[0].id if events and has_newer else None,
        )
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs.order_by("-id")[: size + 1])
    events = rows[:size]
    older = events[-1].id if len(rows) > size else None
    newer = events[0].id if events and before is not None else None
    return AuditPage(events, older, newer)


def audit_event_iter_export(*, filters: AuditFilters) -> Iterator[AuditEvent]:
    """All matching events, newest first, in keyset chunks (constant memory, no long cursor)."""
    qs = audit_event_queryset(filters=filters).order_by("-id")
    last: int | None = None
    while True:
        chunk = list((qs.filter(id__lt=last) if last is not None else qs)[:EXPORT_CHUNK])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].id
