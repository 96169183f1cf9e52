"""Recording audit events. Every app calls `audit_event_record`; nothing else writes the log."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from audit.models import AuditEvent
from config.logging import request_id_var


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def audit_event_record(
    *,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    changes: dict | None = None,
    metadata: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user; system components pass `actor_label` instead."""
    if request is not None and actor is None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            actor = request.user
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:200]
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_label=label[:200],
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        changes=changes or {},
        metadata=metadata or {},
        ip_address=_client_ip(request) if request is not None else None,
        user_agent=(request.headers.get("User-Agent", "")[:300] if request is not None else ""),
        request_id=getattr(request, "request_id", "") if request is not None else request_id_var.get().strip("-"),
    )
