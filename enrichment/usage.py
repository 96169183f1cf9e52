"""Calls and credits spent per connection per day (F() increments: safe across workers)."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from enrichment.models import SourceUsage


def usage_record(*, connection_id: int, calls: int, credits: int, people_credits: int = 0) -> None:
    if not (calls or credits or people_credits):
        return
    day = timezone.now().date()
    SourceUsage.objects.get_or_create(connection_id=connection_id, day=day)
    SourceUsage.objects.filter(connection_id=connection_id, day=day).update(
        calls=F("calls") + calls,
        credits=F("credits") + credits,
        people_credits=F("people_credits") + people_credits,
    )
