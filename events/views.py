"""Inbound endpoints of the event hub. Thin: check, store, answer 2xx; fan-out runs later.

One URL per source connection: ``/hooks/events/<kind>/<connection>/``. Order of checks is
the cheapest first: 405 → 404 → 413 (declared length) → 415 → bounded read → 401 → 400.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.services import audit_event_record
from events.intake import (
    EventRejected,
    clay_drafts,
    events_store,
    hubspot_drafts,
    standard_drafts,
)
from events.models import EventSourceKind
from integrations import standard_webhooks
from integrations.hubspot.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_v3_valid
from integrations.inbound import BodyRefused, webhook_body_read
from integrations.models import Connection
from integrations.selectors import connection_for_intake
from pipelines.services.webhooks import WebhookRejected, webhook_verify

_PROVIDER = {"hubspot": "hubspot", "clay": "clay", "standard": "http"}


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _body(request: HttpRequest) -> bytes | JsonResponse:
    try:
        return webhook_body_read(request, limit=settings.PIPELINE_WEBHOOK_MAX_BYTES)
    except BodyRefused as refused:
        return _answer(refused.status, refused.message)


def _rejected(request: HttpRequest, connection: Connection, reason: str) -> JsonResponse:
    audit_event_record(
        action="webhook.rejected",
        actor_label=f"webhook:{connection.name}",
        obj=connection,
        metadata={"reason": reason[:300], "endpoint": "events"},
        request=request,
    )
    return _answer(401, reason)


@csrf_exempt
def event_inbound(request: HttpRequest, kind: str, connection: str) -> JsonResponse:
    if request.method != "POST":
        response = _answer(405, "use POST")
        response["Allow"] = "POST"
        return response
    source = connection_for_intake(name=connection, provider=_PROVIDER.get(kind, "-"))
    if source is None:
        return _answer(404, f"no {kind} source connection named {connection}")
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    try:
        drafts, source_kind = _verified_drafts(request, kind, source, body)
    except WebhookRejected as rejected:
        return _rejected(request, source, rejected.message)
    except standard_webhooks.SignatureInvalid as invalid:
        return _rejected(request, source, str(invalid))
    except EventRejected as bad:
        return _answer(400, str(bad))
    batch = events_store(source=source.name, kind=source_kind, drafts=drafts, coalesce_wake=True)
    status = 202 if batch.events else 200
    return JsonResponse(
        {
            "received": len(drafts),
            "stored": len(batch.events),
            "duplicates": batch.duplicates,
            "events": [str(e.uid) for e in batch.events],
        },
        status=status,
    )


def _verified_drafts(request: HttpRequest, kind: str, source: Connection, body: bytes):  # noqa: ANN202
    if kind == "hubspot":
        valid = signature_v3_valid(
            client_secret=source.client_secret,
            method=request.method,
            uri=request.build_absolute_uri(),
            body=body,
            timestamp_ms=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            now=timezone.now(),
        )
        if not valid:
            raise WebhookRejected(401, "invalid or stale X-HubSpot-Signature-v3")
        return hubspot_drafts(_json(body)), EventSourceKind.HUBSPOT
    if kind == "clay":
        webhook_verify(connection=source, headers=request.headers, body=body)
        options = source.options or {}
        drafts = clay_drafts(
            _json(body),
            object_type=options.get("object_type", "contact"),
            id_field=options.get("id_field", "email"),
        )
        return drafts, EventSourceKind.CLAY
    secrets = [s for s in source.token.replace(",", "\n").split() if s]
    message_id = standard_webhooks.verify(
        secrets=secrets, headers=request.headers, body=body, now=time.time()
    )
    return standard_drafts(_json(body), message_id=message_id), EventSourceKind.STANDARD


def _json(body: bytes):  # noqa: ANN202 - any JSON value
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EventRejected("the body is not valid UTF-8 JSON") from None
    except RecursionError:  # thousands of nested brackets: refused, never a 500
        raise EventRejected("the JSON is nested too deeply") from None


@csrf_exempt
def execution_callback(request: HttpRequest, token: str) -> JsonResponse:
    """Clay's findings for a waiting step, correlated by the token we sent with the row.
    The token is the credential (≥ 256 bits, single use, only its hash stored)."""
    from events.executions.engine import CallbackRefused, callback_receive

    if request.method != "POST":
        response = _answer(405, "use POST")
        response["Allow"] = "POST"
        return response
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    try:
        findings = _json(body)
    except EventRejected as bad:
        return _answer(400, str(bad))
    if not isinstance(findings, dict):
        return _answer(400, "the callback body must be a JSON object")
    try:
        execution = callback_receive(token=token, output=findings)
    except CallbackRefused as refused:
        return _answer(refused.status, str(refused))
    return JsonResponse({"execution": execution.pk, "status": "received"}, status=202)
