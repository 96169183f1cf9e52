"""Recording audit events. Every app calls `audit_event_record`; nothing else writes the log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.chain import chain_head_hash, chain_lock, event_hash
from audit.masking import cap_strings, json_safe, mask_structure, scrub_text
from config.logging import request_id_var


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites
    # it, and a forged IP in the audit log is worse than the proxy's IP.
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
    source: str = "",
) -> Any:
    """Append one event to the chain. `actor` is a user; system components pass `actor_label`.

    `changes` is `{field: [old, new]}` (build it with `audit.masking.changes_diff`). Whatever the
    caller passed, values under secret-looking keys are masked and personal ones hashed here
    as well, and email addresses in any string are hashed: the last line of defence.
    `source` (admin, cli, api, celery...) lands in metadata.
    """
    from audit.models import AuditEvent

    if request is not None and actor is None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            actor = request.user
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id not in ("", None) else obj.pk
        object_repr = object_repr or str(obj)
    label = actor_label or (actor.get_username() if actor is not None else "system")
    meta = dict(metadata or {})
    if source:
        meta.setdefault("source", source)
    fields: dict[str, Any] = {
        "actor_id": actor.pk if actor is not None and getattr(actor, "pk", None) else None,
        "actor_label": str(label)[:200],
        "action": action[:80],
        "object_type": object_type[:100],
        "object_id": str(object_id if object_id is not None else "")[:100],
        "object_repr": scrub_text(str(object_repr))[:200],
        "changes": cap_strings(mask_structure(json_safe(changes or {}))),
        "metadata": cap_strings(mask_structure(json_safe(meta))),
        "ip_address": _client_ip(request) if request is not None else None,
        "user_agent": (request.headers.get("User-Agent", "")[:300] if request is not None else ""),
        "request_id": (
            getattr(request, "request_id", "")
            if request is not None
            else request_id_var.get().strip("-")
        )[:64],
    }
    with transaction.atomic():
        chain_lock()
        fields["prev_hash"] = chain_head_hash()
        # Timestamped under the lock, so created_at grows with id (retention cuts by date
        # and relies on the prefix of old events being contiguous).
        fields["created_at"] = timezone.now()
        event = AuditEvent(**fields)
        event.hash = event_hash(fields)
        event.save(force_insert=True)
    return event
