"""HubSpot webhook events for routing: stored before the answer, processed by Celery.

docs/reference/hubspot.md#webhook-delivery: verify, store the raw event, answer 2xx fast, work later. Each event of a
batch is stored as its own InboundEvent under the key of docs/reference/hubspot.md#webhook-payloads (subscription, event, object,
occurredAt, property), so a redelivered event is acknowledged and never processed twice.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.errors import ProviderError, RateLimited
from integrations.hubspot.webhooks import event_dedupe_key
from integrations.inbound import nul_strip
from integrations.models import ConnectionStatus
from pipelines.enqueue import ROUTING_EVENTS_PROCESS, enqueue_on_commit
from pipelines.models import DecisionTrigger, InboundEvent, RoutingConfig, RoutingDecision
from pipelines.routing.leads import leads_fetch
from pipelines.routing.selectors import properties_needed, routing_setup_load
from pipelines.routing.services import decision_dead_letter, lead_route

logger = logging.getLogger(__name__)

SOURCE = "hubspot"
# Longest Celery countdown a routing retry may use. Redis redelivers a message not acked
# within its visibility timeout (2 h here, docs/operations.md), and a countdown counts
# against it: a 24 h Retry-After (a DAILY 429, a 477 migration) would be delivered again and
# again. The loader caps its countdowns the same way.
ROUTING_MAX_COUNTDOWN = 600.0
PROPERTY_CHANGE_TYPES = ("contact.propertyChange", "object.propertyChange")


def routing_events_store(*, config: RoutingConfig, events: list[dict[str, Any]]) -> list[int]:
    """Store the events not seen before; enqueue their processing after commit. Returns the
    ids stored now (a replay returns [])."""
    now = timezone.now()
    rows = {}
    for event in events:
        event, _removed = nul_strip(event)  # the rule for every store (integrations/inbound.py)
        key = event_dedupe_key(event)
        if len(key) > 200:  # the column's width: an oversized id is hashed, never cut or refused
            key = "hubspot:sha256:" + hashlib.sha256(key.encode()).hexdigest()
        rows[key] = InboundEvent(
            source=SOURCE,
            workflow_id=config.workflow_id,
            connection_id=config.hubspot_connection_id,
            dedupe_key=key,
            event_id=str(event.get("eventId", ""))[:200],
            payload=event,
            received_at=now,
        )
    with transaction.atomic():
        known = set(
            InboundEvent.objects.filter(dedupe_key__in=list(rows)).values_list(
                "dedupe_key", flat=True
            )
        )
        fresh = [row for key, row in rows.items() if key not in known]
        # ignore_conflicts: a concurrent delivery of the same event loses quietly to the first
        InboundEvent.objects.bulk_create(fresh, ignore_conflicts=True)
        ids = list(
            InboundEvent.objects.filter(
                dedupe_key__in=[r.dedupe_key for r in fresh], processed_at__isnull=True
            ).values_list("pk", flat=True)
        )
        if ids:
            enqueue_on_commit(ROUTING_EVENTS_PROCESS, ids)
    return ids


def event_is_mql(*, config: RoutingConfig, event: dict[str, Any]) -> bool:
    """A contact's lifecycle stage became the configured one (default marketingqualifiedlead)."""
    return (
        event.get("subscriptionType") in PROPERTY_CHANGE_TYPES
        and event.get("objectTypeId", "0-1") == "0-1"
        and event.get("propertyName") == "lifecyclestage"
        and str(event.get("propertyValue", "")) == config.lifecycle_stage
        and event.get("objectId") is not None
    )


def routing_events_process(*, event_ids: list[int], hubspot: Any = None) -> int:
    """Route the MQLs among these events; mark every event processed. Returns leads routed.
    Safe to run twice: processed events are skipped and decisions are keyed by event."""
    from integrations.registry import client_given_or_new

    events = list(
        InboundEvent.objects.filter(
            pk__in=event_ids, source=SOURCE, processed_at__isnull=True
        ).select_related("workflow__routing__hubspot_connection")
    )
    routed = 0
    by_config: dict[int, list[InboundEvent]] = {}
    for event in events:
        config = getattr(event.workflow, "routing", None) if event.workflow else None
        if config is None or not event_is_mql(config=config, event=event.payload):
            InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
            continue
        by_config.setdefault(config.pk, []).append(event)
    for batch in by_config.values():
        config = batch[0].workflow.routing
        with client_given_or_new(config.hubspot_connection, given=hubspot) as client:
            routed += _route_batch(config=config, events=batch, hubspot=client)
    return routed


def routing_retry_plan(*, error: ProviderError, retries: int) -> tuple[str, float]:
    """What to do after a transient error: ``("retry", countdown)`` for a wait that fits a
    Celery countdown, else ``("park", seconds)``: a spent daily quota or an hours-long
    Retry-After parks the events with the connection paused until then."""
    wait = error.retry_after
    if isinstance(error, RateLimited) and error.daily:
        return "park", float(wait or 3600)
    if wait is not None and wait > ROUTING_MAX_COUNTDOWN:
        return "park", float(wait)
    return "retry", min(float(wait if wait is not None else 15 * 2**retries), ROUTING_MAX_COUNTDOWN)


def routing_events_park(*, event_ids: list[int], seconds: float, reason: str) -> list[int]:
    """Pause the HubSpot connections these events route through until ``seconds`` from now.
    The events stay unprocessed in the database; the sweeper sends them again once their
    connection is usable (runs.batches_sweep). Returns the connections paused."""
    from integrations.services import connection_pause

    until = timezone.now() + timedelta(seconds=seconds)
    connection_ids = sorted(
        set(
            InboundEvent.objects.filter(
                pk__in=event_ids, workflow__routing__isnull=False
            ).values_list("workflow__routing__hubspot_connection_id", flat=True)
        )
    )
    for connection_id in connection_ids:
        connection_pause(connection_id=connection_id, until=until, reason=reason[:300])
    return connection_ids


def _route_batch(*, config: RoutingConfig, events: list[InboundEvent], hubspot: Any) -> int:
    contact_ids = [str(e.payload["objectId"]) for e in events]
    leads = leads_fetch(
        client=hubspot, contact_ids=contact_ids, extra=properties_needed(config=config)
    )
    setup = routing_setup_load(config=config)
    routed = 0
    for event, contact_id in zip(events, contact_ids, strict=True):
        lead = leads.get(contact_id)
        try:
            if lead is None:
                _contact_missing(config=config, event=event, contact_id=contact_id)
            else:
                decision = lead_route(
                    config=config,
                    lead=lead,
                    hubspot=hubspot,
                    dedupe_key=event.dedupe_key,
                    trigger=DecisionTrigger.WEBHOOK,
                    inbound_event_id=event.pk,
                    setup=setup,
                )
                routed += decision.status == "routed"
        except ProviderError as error:
            if not error.permanent:
                raise  # the task retries; what is done is recorded on the decisions
            logger.warning("routing event %s failed permanently: %s", event.pk, error)
        InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
    return routed


def _contact_missing(*, config: RoutingConfig, event: InboundEvent, contact_id: str) -> None:
    decision, created = RoutingDecision.objects.get_or_create(
        dedupe_key=event.dedupe_key,
        defaults={
            "config": config,
            "trigger": DecisionTrigger.WEBHOOK,
            "contact_id": contact_id,
            "inbound_event_id": event.pk,
            "territory_reason": "The contact is not in HubSpot (deleted or merged).",
        },
    )
    if created:
        decision_dead_letter(
            decision=decision, category="contact_not_found", message=decision.territory_reason
        )


def routing_events_sweep(*, now: Any = None) -> dict[str, int]:
    """The routing sweeper (beat, every 30 s): HubSpot MQL events stored more than a minute ago
    and never routed (their task was lost) are sent again, 100 to a task."""
    from celery import current_app

    from pipelines.claims import wake_up

    routing_events_process_task = current_app.tasks[ROUTING_EVENTS_PROCESS]
    now = now or timezone.now()
    quiet = now - timedelta(seconds=60)
    stranded = list(
        InboundEvent.objects.filter(
            source="hubspot", processed_at__isnull=True, received_at__lt=quiet
        )
        # Events parked while their HubSpot connection waits for its quota stay where they are.
        .exclude(
            workflow__routing__hubspot_connection__status=ConnectionStatus.WAITING_FOR_QUOTA,
            workflow__routing__hubspot_connection__paused_until__gt=now,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    sent = 0
    for start in range(0, len(stranded), 100):
        sent += wake_up(routing_events_process_task, stranded[start : start + 100])
    return {"sent": sent}
