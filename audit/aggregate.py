"""Unauthenticated failures are recorded once per source and window, with a count.

Anyone on the network can send a bad-token webhook, a login post without a CSRF token or a
wrong password; one audit event per request let them grow an append-only, 365-day log
without limit (100 posts, 100 events). Here the first failure of a source (client IP, plus
the webhook connection) in a window of AUDIT_AGGREGATE_SECONDS is recorded at once, so an
auditor sees it as it happens; the others in that window are only counted (in the cache),
and the count is written as one more event of the same action (metadata ``repeated``,
``window_start``, ``window_end``) when the window is over: by the next failure of any
source, or by the periodic "Audit: repeated failures" task. Authenticated users' events
are never aggregated (their actor is known, their volume bounded by their sessions).
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from audit.services import audit_event_record

_PENDING = "switchyard:audit:aggregate:pending"


def _window() -> int:
    return int(getattr(settings, "AUDIT_AGGREGATE_SECONDS", 300))


def audit_unauthenticated_record(
    *, action: str, source: str, request: HttpRequest | None = None, **fields: Any
) -> Any:
    """Record `action` for this source unless it was already recorded in this window; then
    only count it. Returns the event written, or None when the failure was only counted."""
    window = _window()
    bucket = int(time.time() // window)
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    who = f"{action}|{source}|{address}"
    key = f"switchyard:audit:aggregate:{hashlib.sha256(who.encode()).hexdigest()[:32]}:{bucket}"
    if not cache.add(key, 1, timeout=window * 4):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: counted as a new first
            cache.add(key, 1, timeout=window * 4)
        return None
    audit_aggregates_flush()
    metadata = {**fields.pop("metadata", {}), "aggregated_per_seconds": window}
    event = audit_event_record(action=action, request=request, metadata=metadata, **fields)
    pending = cache.get(_PENDING) or {}
    pending[key] = {
        "action": action,
        "bucket": bucket,
        "window": window,
        "actor_label": fields.get("actor_label", ""),
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "ip_address": event.ip_address,
        "first_event": event.pk,
    }
    cache.set(_PENDING, pending, timeout=None)
    return event


def audit_aggregates_flush(*, now: float | None = None) -> int:
    """Write the count of every finished window that saw more than one failure. Returns
    how many summary events were written."""
    pending = cache.get(_PENDING) or {}
    if not pending:
        return 0
    now = time.time() if now is None else now
    written, keep = 0, {}
    for key, info in pending.items():
        if int(now // info["window"]) <= info["bucket"]:
            keep[key] = info
            continue
        count = int(cache.get(key) or 1)
        cache.delete(key)
        if count > 1:
            start = info["bucket"] * info["window"]
            audit_event_record(
                action=info["action"],
                actor_label=info["actor_label"] or "anonymous",
                object_type=info["object_type"],
                object_id=info["object_id"],
                object_repr=info["object_repr"],
                metadata={
                    "repeated": count - 1,
                    "first_event": info["first_event"],
                    "ip_address": info["ip_address"] or "",
                    "window_start": datetime.fromtimestamp(start, UTC).isoformat(),
                    "window_end": datetime.fromtimestamp(start + info["window"], UTC).isoformat(),
                },
            )
            written += 1
    cache.set(_PENDING, keep, timeout=None)
    return written
