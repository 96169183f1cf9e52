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
from integrations.inbound import JsonTooDeep, json_loads_bounded
from pipelines.routing.intake import routing_events_store
from pipelines.routing.selectors import routing_config_get

logger = logging.getLogger(__name__)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _refusal_before_reading(request: HttpRequest, limit: int) -> JsonResponse | None:
    """What can be refused from the headers alone, before one byte of the body is read."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _answer(400, "Content-Length is not a number")
    if declared > limit:
        return _answer(413, f"body larger than {limit} bytes")
    missing = [h for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER) if not request.headers.get(h)]
    if missing:
        return _answer(401, f"missing {' and '.join(missing)} header")
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        return _answer(
            415, f"Content-Type must be application/json, not {content_type or 'missing'}"
        )
    return None


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
    refused = _refusal_before_reading(request, limit)
    if refused is not None:
        return refused
    # the raw bytes: the signature covers them as sent (docs/reference/hubspot.md#webhook-signatures)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _answer(413, f"body larger than {limit} bytes")
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
