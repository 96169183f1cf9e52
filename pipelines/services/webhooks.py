"""Inbound Clay webhook: verify, store, acknowledge; processing happens later in batches.

Clay's HTTP API column does not sign requests (docs/reference/clay.md#http-api-column), so the default is a
per-connection shared secret in a header, compared in constant time. Senders that can sign
use Standard Webhooks (docs/reference/reliability.md#inbound-webhooks): ``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, ±300 s.
The stored row with a unique dedupe key is what makes replays harmless; the signature window
only bounds how long a captured request stays usable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.hot_path import row_insert_unless_taken
from integrations.inbound import JsonTooDeep, bounded_int, json_loads_bounded
from integrations.models import AuthType, Connection
from pipelines import wakeups
from pipelines.claims import wake_window_open
from pipelines.models import InboundEvent, Run, RunTrigger, Workflow

DEFAULT_TOKEN_HEADER = "X-Switchyard-Token"  # noqa: S105 - a header name
DEFAULT_EVENT_ID_HEADER = "X-Event-Id"
STANDARD_HEADERS = {
    "id": "webhook-id",
    "timestamp": "webhook-timestamp",
    "signature": "webhook-signature",
}
TOLERANCE_SECONDS = 300
PAYLOAD_DEDUPE_WINDOW = timedelta(hours=24)
MAX_RECORDS_PER_EVENT = 1000
# Requests arriving within this many seconds share one processing task (never one per record).
PROCESS_DEBOUNCE_SECONDS = 2


class WebhookRejected(Exception):
    def __init__(self, status: int, message: str, *, audit: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.audit = audit


def _secrets(connection: Connection) -> list[str]:
    """Several secrets may be active at once (rotation): one per line or comma-separated."""
    return [s for s in connection.token.replace(",", "\n").split() if s]


def webhook_verify(
    *, connection: Connection, headers: Any, body: bytes, now: float | None = None
) -> str:
    """Check the credentials; return the sender's event id ("" if none). Raises
    WebhookRejected(401) naming what was wrong (never the secret)."""
    options = connection.options or {}
    secrets = _secrets(connection)
    if not secrets:
        raise WebhookRejected(401, "this connection has no secret configured", audit=True)
    if connection.auth_type == AuthType.HMAC_SHA256:
        names = {k: options.get(f"{k}_header", v) for k, v in STANDARD_HEADERS.items()}
        event_id, stamp, signatures = (
            headers.get(names[k], "") for k in ("id", "timestamp", "signature")
        )
        if not (event_id and stamp and signatures):
            raise WebhookRejected(
                401,
                f"missing {', '.join(n for k, n in names.items() if not headers.get(n))} header",
                audit=True,
            )
        seconds = bounded_int(stamp)  # at most 15 digits: 400 digits is no timestamp
        if seconds is None:
            raise WebhookRejected(401, "the timestamp header is not a number", audit=True)
        age = abs(int(now or time.time()) - seconds)
        if age > TOLERANCE_SECONDS:
            raise WebhookRejected(401, "the timestamp is more than 5 minutes off", audit=True)
        signed = f"{event_id}.{stamp}.".encode() + body
        expected = [
            base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
            for secret in secrets
        ]
        given = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
        # Compare every pair, no early exit: timing says nothing about which one was close.
        matched = False
        for candidate in given:
            for wanted in expected:
                matched |= hmac.compare_digest(candidate.encode(), wanted.encode())
        if not matched:
            raise WebhookRejected(401, "the signature does not match the body", audit=True)
        return event_id
    header = options.get("header", DEFAULT_TOKEN_HEADER)
    presented = headers.get(header, "")
    if header.lower() == "authorization" and presented.lower().startswith("bearer "):
        presented = presented[7:]
    if not presented:
        raise WebhookRejected(401, f"missing {header} header", audit=True)
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(presented.strip().encode(), secret.encode())
    if not matched:
        raise WebhookRejected(401, f"wrong token in {header}", audit=True)
    return headers.get(options.get("event_id_header", DEFAULT_EVENT_ID_HEADER), "")


def _key(secret: str) -> bytes:
    """Standard Webhooks secrets are ``whsec_<base64>``; anything else is used as bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:])
        except ValueError:
            pass
    return secret.encode()


def webhook_payload_parse(*, body: bytes) -> Any:
    """A JSON object or a non-empty array of objects. Raises WebhookRejected(400) naming the problem."""
    try:
        payload = json_loads_bounded(body)
    except JsonTooDeep as deep:
        raise WebhookRejected(400, f"the body is {deep} (the limit)") from None
    except UnicodeDecodeError:
        raise WebhookRejected(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise WebhookRejected(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if isinstance(payload, list):
        if not payload:
            raise WebhookRejected(400, "the array is empty: send one record or an array of records")
        if len(payload) > MAX_RECORDS_PER_EVENT:
            raise WebhookRejected(
                400, f"too many records in one request ({len(payload)} > {MAX_RECORDS_PER_EVENT})"
            )
        bad = [i for i, item in enumerate(payload) if not isinstance(item, dict)]
        if bad:
            raise WebhookRejected(400, f"array item {bad[0]} is not a JSON object")
        return payload
    if not isinstance(payload, dict):
        raise WebhookRejected(
            400, "the body must be a JSON object (one record) or an array of objects"
        )
    return payload


@dataclass
class Receipt:
    event: InboundEvent
    duplicate: bool


def inbound_event_store(
    *,
    workflow: Workflow,
    connection: Connection,
    source: str,
    event_id: str,
    body: bytes,
    payload: Any,
) -> Receipt:
    """Store the event unless it was seen: same event id ever, or (no id) same body from the
    same connection within 24 h. Schedules processing once the row is committed."""
    now = timezone.now()
    if event_id:
        key = f"{source}:{connection.pk}:id:{hashlib.sha256(event_id.encode()).hexdigest()}"
    else:
        key = f"{source}:{connection.pk}:body:{hashlib.sha256(body).hexdigest()}"
    event = InboundEvent(
        source=source,
        workflow=workflow,
        connection=connection,
        dedupe_key=key,
        event_id=event_id[:200],
        payload=payload,
        received_at=now,
    )
    # One statement, committed by itself (integrations/hot_path.py); a taken key is a replay.
    if not row_insert_unless_taken(event, unique="dedupe_key"):
        existing = InboundEvent.objects.get(dedupe_key=key)
        if event_id or existing.received_at > now - PAYLOAD_DEDUPE_WINDOW:
            return Receipt(event=existing, duplicate=True)
        # Same body after 24 h is a new submission: retire the old key and store this one.
        with transaction.atomic():
            InboundEvent.objects.filter(pk=existing.pk).update(dedupe_key=f"{key}:{existing.pk}")
            event = InboundEvent.objects.create(
                source=source,
                workflow=workflow,
                connection=connection,
                dedupe_key=key,
                event_id="",
                payload=payload,
                received_at=now,
            )
    if wake_window_open(f"pipelines:inbound:{workflow.pk}", seconds=PROCESS_DEBOUNCE_SECONDS):
        # Never fails the request: an unpublished wake-up is the sweeper's (clay_events_sweep).
        workflow_id = workflow.pk
        transaction.on_commit(
            lambda: wakeups.workflow_events_wake(
                workflow_id=workflow_id, countdown=PROCESS_DEBOUNCE_SECONDS
            )
        )
    return Receipt(event=event, duplicate=False)


def inbound_events_process(
    *, workflow_id: int, limit: int = 5000, dispatch: bool = True
) -> Run | None:
    """Claim the workflow's unprocessed events (up to ``limit``) into one webhook run and
    prepare it. Concurrent calls claim disjoint events (skip_locked)."""
    from pipelines.services.runs import run_prepare
    from pipelines.services.staging import run_create

    with transaction.atomic():
        ids = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(
                workflow_id=workflow_id, source="clay", run__isnull=True, processed_at__isnull=True
            )
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return None
        workflow = Workflow.objects.get(pk=workflow_id)
        connection = workflow.source_connection
        run = run_create(
            workflow=workflow,
            trigger=RunTrigger.WEBHOOK,
            actor_label=f"webhook:{connection.name if connection else workflow.slug}",
        )
        InboundEvent.objects.filter(pk__in=ids).update(run=run)
    return run_prepare(run_id=run.pk, dispatch=dispatch)
