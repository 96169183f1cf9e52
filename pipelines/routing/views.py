"""The HubSpot webhook receiver for MQL routing: verify, store, answer; Celery does the rest."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.hubspot.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_v3_valid
from pipelines.routing.intake import routing_events_store
from pipelines.routing.selectors import routing_config_get

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def hubspot_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """docs/reference/hubspot.md#webhook-delivery: 401 on a bad signature (HubSpot does not retry it), 400 on a body
    that is not an array of events (not retried either), 200 once stored."""
    config = routing_config_get(workflow_slug=slug)
    if config is None or not config.workflow.enabled:
        return JsonResponse({"error": "unknown workflow"}, status=404)
    # the raw bytes: the signature covers them as sent (docs/reference/hubspot.md#webhook-signatures)
    body = request.body
    valid = signature_v3_valid(
        client_secret=config.hubspot_connection.client_secret,
        method=request.method,
        uri=request.build_absolute_uri(),
        body=body,
        timestamp_ms=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        now=timezone.now(),
    )
    if not valid:
        logger.warning("HubSpot webhook for %s: bad or stale signature", slug)
        return JsonResponse({"error": "invalid signature"}, status=401)
    try:
        events = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return JsonResponse({"error": "expected an array of events"}, status=400)
    stored = routing_events_store(config=config, events=events)
    return JsonResponse({"received": len(events), "stored": len(stored)})
