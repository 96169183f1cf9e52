"""The Clay inbound webhook. Thin: checks in the order that costs least, then one insert.

Order: 405 → 404 → 413 (Content-Length, before reading) → 415 → bounded read (413) → 401 →
400 → store → 202. Django's own body limit answers 400 (RequestDataTooBig), not 413, so the
body is read here with an explicit bound (docs/reference/reliability.md#inbound-webhooks).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from audit.aggregate import audit_unauthenticated_record
from integrations.inbound import BodyRefused, nul_strip, webhook_body_read
from integrations.models import Provider
from pipelines.selectors import workflow_for_intake
from pipelines.services.webhooks import (
    WebhookRejected,
    inbound_event_store,
    webhook_payload_parse,
    webhook_verify,
)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
def clay_webhook(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "POST":
        response = _answer(405, "use POST")
        response["Allow"] = "POST"
        return response
    workflow = workflow_for_intake(slug=slug)
    connection = workflow.source_connection if workflow else None
    if (
        workflow is None
        or not workflow.enabled
        or connection is None
        or connection.provider != Provider.CLAY
    ):
        return _answer(404, "no enabled workflow with a Clay source at this address")
    limit = int(
        (connection.options or {}).get("max_body_bytes") or settings.PIPELINE_WEBHOOK_MAX_BYTES
    )
    try:
        body = webhook_body_read(request, limit=limit)
    except BodyRefused as refused:
        return _answer(refused.status, refused.message)
    try:
        event_id = webhook_verify(connection=connection, headers=request.headers, body=body)
        payload = webhook_payload_parse(body=body)
    except WebhookRejected as rejected:
        if rejected.audit:
            # Unauthenticated: once per sender and window, with a count (audit/aggregate.py).
            audit_unauthenticated_record(
                action="webhook.rejected",
                source=f"connection:{connection.pk}",
                actor_label=f"webhook:{connection.name}",
                obj=workflow,
                metadata={"reason": rejected.message, "connection": connection.name},
                request=request,
            )
        return _answer(rejected.status, rejected.message)
    # NUL characters: removed alike on SQLite and PostgreSQL (integrations/inbound.py), so one
    # bad field never loses the delivery; the answer says so.
    payload, removed = nul_strip(payload)
    receipt = inbound_event_store(
        workflow=workflow,
        connection=connection,
        source="clay",
        event_id=event_id,
        body=body,
        payload=payload,
    )
    if receipt.duplicate:
        return JsonResponse({"status": "duplicate", "event": receipt.event.pk}, status=200)
    count = len(payload) if isinstance(payload, list) else 1
    answer = {"status": "accepted", "event": receipt.event.pk, "records": count}
    if removed:
        answer["warnings"] = [f"{removed} NUL character(s) removed from the text"]
    return JsonResponse(answer, status=202)
