"""Load one batch: skip unchanged, warehouse upsert, HubSpot batch upsert with error
isolation, then write what load_decision decided for every record, and finish the run if this
was the last batch.

One bad record never fails its batch (docs/architecture.md, "The journey of a record"):
- a 207 names failed inputs by objectWriteTraceId (= RunRecord id): those become dead letters;
- a whole-batch 400 naming values: the blamed inputs become dead letters, the rest is resent;
- a 400 that names nobody: the batch is bisected until the bad inputs are alone
  (cost: about 2·log2(100) ≈ 14 extra calls per bad record, only on that rare path;
  bench/bad_rows.py measured 11-12);
- an input the reply does not mention at all is read back by its match key before it is
  dead-lettered: HubSpot may have written it;
- what a failed call means for the batch (wait, retry, dead-letter) is decided in
  pipelines.services.load_decision, and written in one step (load_outcomes.batch_verdict_save).

Batches are claimed from the database (batch_claims.batch_claim_next) by the run's load task
(pipelines.services.loader); this module loads the batch it is given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.errors import ProviderError
from integrations.hubspot.errors import BatchRejected
from pipelines.claims import INFRASTRUCTURE_ERRORS
from pipelines.mapping import hubspot_properties, values_hash
from pipelines.models import (
    RecordState,
    Run,
    RunBatch,
    RunRecord,
    SyncedContact,
)
from pipelines.services.batch_claims import (
    LIVE_LEASES,
    batch_claim_next,
    batch_lease,
    batch_release_after_infrastructure_error,
)
from pipelines.services.load_decision import HubSpotAnswer, batch_verdict
from pipelines.services.load_outcomes import BatchOutcome, batch_verdict_save

# The longest a batch waits in-process between retries (a 5xx's jittered backoff). A longer
# wait, such as the 10 s after HubSpot's ten-secondly 429, goes back to the database as the
# batch's available_at and the thread loads other batches meanwhile. (Waiting for a slot of
# our own limiter is separate: up to 10 s in-process, ClientConfig.limiter_max_wait.)
BATCH_IN_PROCESS_WAIT = 2.0


def _renewer(batch_id: int, token: str) -> Callable[[], None]:
    def renew() -> None:
        # Before every call: a slow batch (bisecting, in-process retries) keeps its lease.
        until = timezone.now() + timedelta(seconds=settings.PIPELINE_BATCH_LEASE_SECONDS)
        RunBatch.objects.filter(pk=batch_id, lease_token=token).update(lease_expires_at=until)

    return renew


def batch_process(*, batch_id: int, transport: httpx.BaseTransport | None = None) -> BatchOutcome:
    """Lease this batch and load it. Idempotent: records already in a terminal state are
    never sent or counted again, so a batch run twice changes nothing the second time."""
    token = str(uuid.uuid4())
    LIVE_LEASES.add(token)
    try:
        batch = batch_lease(batch_id=batch_id, token=token)
        if batch is None:
            return BatchOutcome(batch_id=batch_id, state="skipped")
        return batch_load(batch=batch, token=token, transport=transport)
    finally:
        LIVE_LEASES.discard(token)


def batch_load_next(
    *, run_id: int, transport: httpx.BaseTransport | None = None
) -> BatchOutcome | None:
    """Claim the run's next due batch and load it; None when nothing is due."""
    token = str(uuid.uuid4())
    LIVE_LEASES.add(token)
    try:
        batch = batch_claim_next(run_id=run_id, token=token)
        if batch is None:
            return None
        return batch_load(batch=batch, token=token, transport=transport)
    except INFRASTRUCTURE_ERRORS:
        # Also when the claim itself failed half-way: the release matches the token.
        batch_release_after_infrastructure_error(run_id=run_id, token=token)
        raise
    finally:
        LIVE_LEASES.discard(token)


def batch_load(
    *, batch: RunBatch, token: str, transport: httpx.BaseTransport | None = None
) -> BatchOutcome:
    """Send a leased batch to HubSpot and write the verdict."""
    from integrations.registry import client_for

    started = timezone.now()
    run = batch.run
    workflow = run.workflow
    # The source row is read only for the few records that fail (records_outcome_write):
    # decoding 100 of them on every batch cost more CPU than the rest of the record.
    records = list(
        RunRecord.objects.filter(pk__in=batch.record_ids, state=RecordState.TRANSFORMED)
        .defer("raw", "errors")
        .order_by("position")
    )
    answer = HubSpotAnswer()
    synced = dict(
        SyncedContact.objects.filter(
            workflow=workflow, match_key__in=[r.match_key for r in records]
        ).values_list("match_key", "values_hash")
    )
    to_send = []
    for record in records:
        if synced.get(record.match_key) == values_hash(record.values):
            answer.unchanged.append(record.pk)
        else:
            to_send.append(record)
    try:
        if to_send and workflow.warehouse_connection_id:
            _warehouse_upsert(workflow, run, to_send)
        if to_send:
            with client_for(
                workflow.destination_connection,
                transport=transport,
                max_retry_wait=BATCH_IN_PROCESS_WAIT,
            ) as client:
                _upsert_isolating(client, workflow, to_send, answer, _renewer(batch.pk, token))
    except ProviderError as exc:
        answer.error = exc
    except (ValueError, ValidationError) as exc:  # a misconfigured connection: retrying cannot help
        answer.error = ProviderError(f"connection misconfigured: {exc}", permanent=True)
        answer.error.kind = "configuration"
    verdict = batch_verdict(
        record_ids=[r.pk for r in records],
        answer=answer,
        attempts=batch.attempts,
        max_attempts=settings.PIPELINE_BATCH_MAX_ATTEMPTS,
    )
    return batch_verdict_save(
        batch=batch,
        token=token,
        records=records,
        verdict=verdict,
        started=started,
        error=answer.error,
    )


def _inputs(workflow: Any, group: list[RunRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.match_key,
            "properties": hubspot_properties(r.values),
            "objectWriteTraceId": str(r.pk),
        }
        for r in group
    ]


def _upsert_isolating(
    client: Any,
    workflow: Any,
    records: list[RunRecord],
    answer: HubSpotAnswer,
    renew: Callable[[], None],
) -> None:
    unaccounted: list[RunRecord] = []
    _upsert_groups(client, workflow, [records], answer, renew, unaccounted)
    if unaccounted:
        renew()
        _read_back(client, workflow, unaccounted, answer)


def _upsert_groups(
    client: Any,
    workflow: Any,
    queue: list[list[RunRecord]],
    answer: HubSpotAnswer,
    renew: Callable[[], None],
    unaccounted: list[RunRecord],
) -> None:
    while queue:
        group = queue.pop(0)
        renew()
        try:
            reply = client.batch_upsert(
                workflow.destination_object, _inputs(workflow, group), id_property=workflow.match_on
            )
        except BatchRejected as rejection:
            blamed = sorted(set(rejection.input_indexes))
            category = rejection.category or "VALIDATION_ERROR"
            if blamed:
                for index in blamed:
                    answer.rejected[group[index].pk] = (category, _blame(rejection, group[index]))
                rest = [r for i, r in enumerate(group) if i not in blamed]
                if rest:
                    queue.insert(0, rest)
            elif len(group) == 1:
                answer.rejected[group[0].pk] = (category, _blame(rejection, group[0]))
            else:
                middle = len(group) // 2
                queue[:0] = [group[:middle], group[middle:]]
            continue
        for success in reply.succeeded:
            if success.index is not None:
                answer.loaded[group[success.index].pk] = (success.object_id, success.new)
        for failure in reply.failed:
            if failure.index is not None:
                answer.rejected[group[failure.index].pk] = (
                    failure.category or "VALIDATION_ERROR",
                    [failure.message or "rejected by HubSpot"],
                )
        unaccounted += [group[index] for index in reply.unaccounted(len(group))]


def _read_back(client: Any, workflow: Any, records: list[RunRecord], answer: HubSpotAnswer) -> None:
    """HubSpot's reply did not mention these inputs (no echoed objectWriteTraceId, no match
    by key), yet HubSpot may have written them. Before dead-lettering, read them back by
    their match key (a batch read: idempotent, one call per 100) and decide from what HubSpot
    holds: a record carrying every value sent is loaded (counted as updated: whether the
    upsert created it is unknown); a missing one, or one without those values, is a dead
    letter to reprocess."""
    key = workflow.match_on
    for start in range(0, len(records), 100):
        chunk = records[start : start + 100]
        sent = {r.pk: hubspot_properties(r.values) for r in chunk}
        names = sorted({name for props in sent.values() for name in props} | {key})
        reply = client.batch_read(
            workflow.destination_object,
            [r.match_key for r in chunk],
            id_property=key,
            properties=names,
        )
        held = {str(s.properties.get(key) or "").lower(): s for s in reply.succeeded}
        for record in chunk:
            found = held.get(record.match_key.lower())
            if found is not None and _holds(found.properties, sent[record.pk]):
                answer.loaded[record.pk] = (found.object_id, False)
            else:
                answer.rejected.setdefault(
                    record.pk,
                    (
                        "no_result",
                        [
                            "HubSpot's reply did not mention this record and HubSpot does not "
                            "hold its values; reprocess to send it again"
                        ],
                    ),
                )


def _holds(held: dict[str, Any], sent: dict[str, Any]) -> bool:
    """HubSpot stores strings; an empty value clears a property (comes back empty or null)."""
    return all(
        str(held.get(name) or "").strip().lower() == str(value or "").strip().lower()
        for name, value in sent.items()
    )


def _blame(rejection: BatchRejected, record: RunRecord) -> list[str]:
    """Messages for one blamed input: the property errors that match its values, else the
    whole provider message (it may quote values: dead letters only, never logs)."""
    props = hubspot_properties(record.values)
    messages = [
        f"{entry.get('name')}: {entry.get('message') or entry.get('error')}"
        for entry in rejection.invalid
        if props.get(entry.get("name", "")) not in (None, "")
        and (
            str(props.get(entry.get("name"))) == str(entry.get("invalidValue", "\0"))
            or str(props.get(entry.get("name"))) in str(entry.get("message", ""))
        )
    ]
    return messages or [str(rejection.context.get("provider_message") or rejection.message)]


def _warehouse_upsert(workflow: Any, run: Run, records: list[RunRecord]) -> None:
    from integrations.registry import client_for

    key = workflow.match_on
    with client_for(workflow.warehouse_connection) as client:
        _warehouse_write(client, workflow, run, records, key)


def _warehouse_write(
    client: Any, workflow: Any, run: Run, records: list[RunRecord], key: str
) -> None:
    client.ensure_table(
        workflow.warehouse_table,
        {
            key: "text",
            "properties": "jsonb",
            "extras": "jsonb",
            "run_id": "bigint",
            "synced_at": "timestamptz",
        },
        key=key,
    )
    now = timezone.now()
    client.upsert(
        workflow.warehouse_table,
        [
            {
                key: r.match_key,
                "properties": r.values,
                "extras": r.extras,
                "run_id": run.pk,
                "synced_at": now,
            }
            for r in records
        ],
        key=key,
    )
