"""Reprocessing a routing dead letter routes the contact again.

A routing letter is a lead nothing could route (no territory, no owner, HubSpot failing). The
pipeline's reprocess (pipelines.services.dead_letters) resolves the letters into a new run;
for a routing workflow that run is carried out here, not by the loader: each letter's contact
is fetched from HubSpot again and routed with today's rules, and the run gets one record per
letter (loaded = routed, skipped = suppressed, dead-lettered = still unroutable, with the new
letter) before run_finish counts it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.errors import ProviderError
from pipelines.models import (
    DeadLetter,
    DeadLetterStage,
    DecisionStatus,
    DecisionTrigger,
    RecordSource,
    RecordState,
    RoutingConfig,
    Run,
    RunRecord,
    RunStatus,
)
from pipelines.services.runs import run_finish

_STATE_OF = {
    DecisionStatus.ROUTED: RecordState.LOADED,
    DecisionStatus.SKIPPED: RecordState.SKIPPED,
}


def routing_run_reprocess(*, run_id: int, hubspot: Any = None) -> Run:
    """Route again the contacts of the letters resolved into this run. Safe to run twice: a
    letter's record and decision are keyed by the run and the letter, so a retry resumes."""
    from integrations.registry import client_for
    from pipelines.routing.leads import leads_fetch
    from pipelines.routing.selectors import properties_needed
    from pipelines.routing.services import lead_route

    run = Run.objects.select_related("workflow").get(pk=run_id)
    if run.is_finished:
        return run
    config = RoutingConfig.objects.select_related("hubspot_connection").get(workflow=run.workflow)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    client = hubspot or client_for(config.hubspot_connection)
    try:
        letters = DeadLetter.objects.filter(resolved_in_run=run).order_by("id")
        for position, letter in enumerate(letters, start=1):
            contact_id = str(letter.payload.get("contact_id") or "")
            record, _ = RunRecord.objects.get_or_create(
                run=run,
                position=position,
                defaults={
                    "source": RecordSource.REPROCESS,
                    "reprocessed_from": letter,
                    "raw": {"contact_id": contact_id},
                    "hubspot_id": contact_id,
                    "state": RecordState.STAGED,
                    "created_at": timezone.now(),
                    "updated_at": timezone.now(),
                },
            )
            if record.state != RecordState.STAGED:
                continue  # done by an earlier attempt
            try:
                lead = leads_fetch(
                    client=client, contact_ids=[contact_id], extra=properties_needed(config=config)
                ).get(contact_id)
                if lead is None:
                    raise LookupError(f"HubSpot has no contact {contact_id}")
                decision = lead_route(
                    config=config,
                    lead=lead,
                    hubspot=client,
                    dedupe_key=f"reprocess:{run.pk}:{letter.pk}",
                    trigger=DecisionTrigger.ADMIN,
                    user=run.triggered_by,
                )
                state = _STATE_OF.get(decision.status, RecordState.DEAD_LETTERED)
                errors = [] if state != RecordState.DEAD_LETTERED else [decision.territory_reason]
            except (ProviderError, LookupError) as error:
                if isinstance(error, ProviderError) and not error.permanent:
                    raise  # transient: the task retries, this record is still staged
                state, errors = RecordState.DEAD_LETTERED, [str(error)]
                DeadLetter.objects.create(
                    run=run,
                    record=record,
                    workflow=run.workflow,
                    stage=DeadLetterStage.ROUTE,
                    category="contact_unavailable",
                    errors=errors,
                    payload=letter.payload,
                )
            record.state, record.errors, record.updated_at = state, errors, timezone.now()
            record.save(update_fields=["state", "errors", "updated_at"])
    finally:
        if hubspot is None:
            client.close()
    with transaction.atomic():
        return run_finish(run=Run.objects.select_for_update().get(pk=run.pk))
