"""Events in: each source's format → one stored Event, deduplicated, fan-out on commit.

Dedupe keys (docs/events.md, "Events in"): HubSpot's (subscriptionId, eventId, objectId,
occurredAt, propertyName) because its eventId alone is not unique; the ``webhook-id`` of a
Standard Webhooks sender; a body hash for Clay, which sends no id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from events.models import Event, EventSourceKind
from integrations.hot_path import row_insert_unless_taken
from integrations.hubspot.webhooks import event_dedupe_key

# HubSpot subscription types name the object in the singular ("deal.propertyChange").
MAX_EVENTS_PER_REQUEST = 1000


class EventRejected(ValueError):
    """The body is not a batch of events of this source's format; says what is wrong."""


@dataclass
class EventDraft:
    dedupe_key: str
    type: str
    occurred_at: datetime
    payload: Any
    source_event_id: str = ""
    object_type: str = ""
    object_id: str = ""
    property_name: str = ""
    property_value: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredBatch:
    events: list[Event]
    duplicates: int


def _epoch_ms(value: Any, *, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EventRejected(f"{what} must be epoch milliseconds")
    text = str(value)
    if not text.isdigit() or len(text) > 14:
        raise EventRejected(f"{what} must be epoch milliseconds")
    return datetime.fromtimestamp(int(text) / 1000, tz=UTC)


def hubspot_drafts(payload: Any) -> list[EventDraft]:
    """A HubSpot webhook batch (a JSON array; one object is accepted as a batch of one)."""
    items = [payload] if isinstance(payload, dict) else payload
    if not isinstance(items, list) or not items:
        raise EventRejected("expected a non-empty array of HubSpot events")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        raise EventRejected(f"too many events in one request (> {MAX_EVENTS_PER_REQUEST})")
    drafts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise EventRejected(f"event {index} is not a JSON object")
        kind = str(item.get("subscriptionType") or "")
        if "." not in kind or item.get("objectId") in (None, ""):
            raise EventRejected(f"event {index} has no subscriptionType or objectId")
        object_type = kind.split(".", 1)[0]
        occurred = _epoch_ms(item.get("occurredAt"), what=f"event {index} occurredAt")
        value = item.get("propertyValue")
        fields = {
            "object_id": str(item["objectId"]),
            "object_type": object_type,
            "portal_id": item.get("portalId"),
            "property": item.get("propertyName") or "",
            "value": "" if value is None else str(value),
            "change_source": item.get("changeSource") or "",
        }
        if item.get("propertyName"):
            fields[str(item["propertyName"])] = fields["value"]
        drafts.append(
            EventDraft(
                dedupe_key=event_dedupe_key(item),
                source_event_id=str(item.get("eventId") or "")[:200],
                type=kind,
                occurred_at=occurred,
                payload=item,
                object_type=object_type,
                object_id=str(item["objectId"])[:120],
                property_name=str(item.get("propertyName") or "")[:120],
                property_value=fields["value"][:500],
                fields=fields,
            )
        )
    return drafts


def clay_drafts(payload: Any, *, object_type: str, id_field: str) -> list[EventDraft]:
    """Clay rows (one object or an array): each row an event ``clay.row``, keyed by its hash."""
    rows = [payload] if isinstance(payload, dict) else payload
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise EventRejected("expected a JSON object (one row) or an array of objects")
    if len(rows) > MAX_EVENTS_PER_REQUEST:
        raise EventRejected(f"too many rows in one request (> {MAX_EVENTS_PER_REQUEST})")
    now = timezone.now()
    drafts = []
    for row in rows:
        digest = hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
        drafts.append(
            EventDraft(
                dedupe_key=f"clay:body:{digest}",
                type="clay.row",
                occurred_at=now,
                payload=row,
                object_type=object_type,
                object_id=str(row.get(id_field) or "")[:120],
                fields={**{k: v for k, v in row.items() if isinstance(k, str)}},
            )
        )
    return drafts


def standard_drafts(payload: Any, *, message_id: str) -> list[EventDraft]:
    """A Standard Webhooks body: ``{"type": "invoice.paid", "timestamp": ..., "data": {...}}``."""
    if not isinstance(payload, dict):
        raise EventRejected("the body must be a JSON object with type and data")
    kind = payload.get("type")
    data = payload.get("data", {})
    if not isinstance(kind, str) or not kind or len(kind) > 120:
        raise EventRejected("`type` must be a non-empty string such as invoice.paid")
    if not isinstance(data, dict):
        raise EventRejected("`data` must be a JSON object")
    occurred = timezone.now()
    stamp = payload.get("timestamp")
    if isinstance(stamp, str):
        try:
            occurred = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise EventRejected("`timestamp` must be an ISO 8601 date-time") from None
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
    return [
        EventDraft(
            dedupe_key=f"standard:{message_id}",
            source_event_id=message_id,
            type=kind,
            occurred_at=occurred,
            payload=payload,
            object_type=kind.split(".", 1)[0],
            object_id=str(data.get("id") or "")[:120],
            fields={k: v for k, v in data.items() if isinstance(k, str)},
        )
    ]


def events_store(
    *,
    source: str,
    kind: str,
    drafts: list[EventDraft],
    fan_out_later: bool = True,
    coalesce_wake: bool = False,
) -> StoredBatch:
    """Insert each draft unless its dedupe key was seen; fan out the new ones on commit
    (``fan_out_later=False``: the caller fans out itself). The unique key, not a cache, is
    what makes a sender's retry harmless. ``coalesce_wake`` (the webhook endpoints): instead
    of one fan-out message per request, at most two wake-ups a second across every web
    process claim whatever was stored (events/wakeups.py, events_fan_out_wake)."""
    stored: list[Event] = []
    now = timezone.now()
    if len(drafts) == 1:  # a webhook's one event: one statement, no transaction around it
        duplicates = _drafts_insert(source=source, kind=kind, drafts=drafts, now=now, into=stored)
    else:
        with transaction.atomic():  # one commit for the batch
            duplicates = _drafts_insert(
                source=source, kind=kind, drafts=drafts, now=now, into=stored
            )
    if stored and fan_out_later:
        from events.wakeups import FAN_OUT, events_fan_out_wake
        from pipelines.enqueue import enqueue_on_commit

        if coalesce_wake:
            events_fan_out_wake()
        else:
            enqueue_on_commit(FAN_OUT, [e.pk for e in stored])
    return StoredBatch(events=stored, duplicates=duplicates)


def _drafts_insert(
    *, source: str, kind: str, drafts: list[EventDraft], now: Any, into: list[Event]
) -> int:
    """Insert each new draft into ``into``; returns how many were already stored."""
    duplicates = 0
    for draft in drafts:
        key = f"{source}:{draft.dedupe_key}"[:300]
        previous = _previous_value(source, draft) if draft.property_name else ""
        event = Event(
            source=source,
            source_kind=kind,
            dedupe_key=key,
            source_event_id=draft.source_event_id,
            type=draft.type,
            object_type=draft.object_type,
            object_id=draft.object_id,
            property_name=draft.property_name,
            property_value=draft.property_value,
            previous_value=previous,
            occurred_at=draft.occurred_at,
            received_at=now,
            payload=draft.payload,
            fields={**draft.fields, "previous_value": previous},
        )
        # One statement each (integrations/hot_path.py); a taken key is a retry.
        if not row_insert_unless_taken(event, unique="dedupe_key"):
            duplicates += 1
            continue
        into.append(event)
    return duplicates


_PREVIOUS_COLUMNS = ("source", "object_type", "object_id", "property_name")


def _previous_value(source: str, draft: EventDraft) -> str:
    """The value this property had in the latest earlier event about the same object (the
    events_event_object_idx index), in SQL not compiled per event (integrations/hot_path.py)."""
    quote = connection.ops.quote_name
    meta = Event._meta
    column = {name: quote(meta.get_field(name).column) for name in _PREVIOUS_COLUMNS}
    occurred = quote(meta.get_field("occurred_at").column)
    sql = (
        f"SELECT {quote(meta.get_field('property_value').column)} FROM {quote(meta.db_table)} "  # noqa: S608 - names from the model
        f"WHERE {' AND '.join(f'{c} = %s' for c in column.values())} AND {occurred} < %s "
        f"ORDER BY {occurred} DESC LIMIT 1"
    )
    occurred_at = meta.get_field("occurred_at").get_db_prep_value(
        draft.occurred_at, connection=connection
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [source, draft.object_type, draft.object_id, draft.property_name, occurred_at]
        )
        row = cursor.fetchone()
    return (row[0] if row else "") or ""


def drafts_for_source(*, connection: Any, payload: Any) -> tuple[str, list[EventDraft]]:
    """A body in the source connection's own format → (source kind, drafts). For replays
    (``events emit``): a Standard Webhooks event without a webhook-id is keyed by its ``id``
    field, else by a hash of its JSON."""
    if connection.provider == "hubspot":
        return EventSourceKind.HUBSPOT, hubspot_drafts(payload)
    if connection.provider == "clay":
        options = connection.options or {}
        return EventSourceKind.CLAY, clay_drafts(
            payload,
            object_type=options.get("object_type", "contact"),
            id_field=options.get("id_field", "email"),
        )
    items = payload if isinstance(payload, list) else [payload]
    drafts = []
    for item in items:
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:32]
        message_id = str(item.get("id") or f"msg_{digest}") if isinstance(item, dict) else ""
        drafts += standard_drafts(item, message_id=message_id)
    return EventSourceKind.STANDARD, drafts


def internal_event_emit(
    *, type: str, object_type: str, object_id: str | int, fields: dict[str, Any]
) -> Event | None:
    """An event the product itself raises (run.finished, dead_letter.created,
    routing.decided). Idempotent per (type, object): a second call stores nothing."""
    draft = EventDraft(
        dedupe_key=f"{type}:{object_id}",
        type=type,
        occurred_at=timezone.now(),
        payload={"type": type, "data": fields},
        object_type=object_type,
        object_id=str(object_id),
        fields={**fields, "object_id": str(object_id), "object_type": object_type},
    )
    batch = events_store(source="internal", kind=EventSourceKind.INTERNAL, drafts=[draft])
    return batch.events[0] if batch.events else None
