"""The HubSpot webhook receiver for MQL routing: verify, store, answer; Celery does the rest.

Checks in the order that costs least, as the Clay receiver does (pipelines/views.py):
405 → 404 → 413 (Content-Length, before reading) → 401 (signature headers present) → 415 →
bounded read (413) → 401 (signature) → 400 (JSON, depth-bounded) → store → 200. An
unauthenticated sender never makes the process hold more than the limit in memory, and every
refusal is JSON naming its reason.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from integrations.hubspot.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_v3_problem,
)
from integrations.inbound import BodyRefused, JsonTooDeep, json_loads_bounded, webhook_body_read
from pipelines.routing.intake import routing_events_store
from pipelines.routing.selectors import routing_config_get

logger = logging.getLogger(__name__)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
def hubspot_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """docs/reference/hubspot.md#webhook-delivery: 401 on a bad signature (HubSpot does not retry it), 400 on a body
    that is not an array of events (not retried either), 200 once stored."""
    if request.method != "POST":
        response = _answer(405, "use POST")
        response["Allow"] = "POST"
        return response
    config = routing_config_get(workflow_slug=slug)
    if config is None or not config.workflow.enabled:
        return _answer(404, "unknown workflow")
    limit = settings.PIPELINE_WEBHOOK_MAX_BYTES
    try:
        # the raw bytes: the signature covers them as sent (docs/reference/hubspot.md#webhook-signatures)
        body = webhook_body_read(
            request, limit=limit, required_headers=(SIGNATURE_HEADER, TIMESTAMP_HEADER)
        )
    except BodyRefused as refused:
        return _answer(refused.status, refused.message)
    problem = signature_v3_problem(
        client_secret=config.hubspot_connection.client_secret,
        method=request.method,
        uri=request.build_absolute_uri(),
        body=body,
        timestamp_ms=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        now=timezone.now(),
    )
    if problem is not None:
        logger.warning("HubSpot webhook for %s refused: %s", slug, problem)
        return _answer(401, f"invalid signature: {problem}")
    try:
        events = json_loads_bounded(body)
    except JsonTooDeep as deep:
        return _answer(400, f"the body is {deep} (the limit)")
    except ValueError:
        return _answer(400, "body is not JSON")
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return _answer(400, "expected an array of events")
    stored = routing_events_store(config=config, events=events)
    return JsonResponse({"received": len(events), "stored": len(stored)})
