"""Load one batch: skip unchanged, warehouse upsert, HubSpot batch upsert with error
isolation, then record every record's outcome, and finish the run if this was the last batch.

One bad record never fails its batch (docs/architecture.md, "The journey of a record"):
- a 207 names failed inputs by objectWriteTraceId (= RunRecord id): those become dead letters;
- a whole-batch 400 naming values: the blamed inputs become dead letters, the rest is resent;
- a 400 that names nobody: the batch is bisected until the bad inputs are alone
  (cost: about 2·log2(100) ≈ 14 extra calls per bad record, only on that rare path);
- 429 TEN_SECONDLY / 5xx / timeouts: the batch task is retried with a countdown, up to
  PIPELINE_BATCH_MAX_ATTEMPTS, then its records become "retries_exhausted" dead letters;
- a DAILY 429: the connection and the run pause until the reset (docs/reference/hubspot.md#rate-limits: never
  retry a daily 429 before the reset); the sweeper dispatches the batch again then.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.errors import ProviderError, RateLimited
from integrations.hubspot.errors import BatchRejected
from pipelines.mapping import hubspot_properties, values_hash
from pipelines.models import (
    BatchState,
    DeadLetter,
    RecordState,
    Run,
    RunBatch,
    RunRecord,
    RunStatus,
    SkipReason,
    SyncedContact,
)
from pipelines.selectors import run_batches_open
from pipelines.services.dead_letters import dead_letter_describe
from pipelines.services.runs import run_finish

# The longest a batch task sleeps between in-process retries (a 5xx's jittered backoff). A
# longer wait, such as the 10 s after a ten-secondly 429, goes back to Celery as a countdown,
# so the pool process loads other batches meanwhile: sleeping through them held a third of
# the pool idle under 5 % injected 429s (bench/soak.py).
BATCH_IN_PROCESS_WAIT = 2.0


@dataclass
class BatchOutcome:
    """What the task should do next: nothing, or retry in ``retry_in`` seconds."""

    batch_id: int
    retry_in: float | None = None
    state: str = ""


@dataclass
class _Results:
    succeeded: dict[int, tuple[str, bool]] = field(
        default_factory=dict
    )  # record id → (hubspot id, new)
    failed: dict[int, tuple[str, list[str]]] = field(
        default_factory=dict
    )  # record id → (category, messages)
    unchanged: list[int] = field(default_factory=list)


def batch_lease(*, batch_id: int, token: str) -> RunBatch | None:
    """Take the batch for this worker, or None if it is done, failed, or leased by a live
    worker (a duplicate delivery: at-least-once means this happens, and it is harmless).

    A lease whose holder was a process on this host that no longer exists is taken over at
    once: that is a pool process killed mid-batch, whose task Celery re-delivers straight
    away (task_reject_on_worker_lost). Waiting for the lease to expire would hold the run for
    the lease plus a sweep (~90 s) per killed process. A holder on another host, or a PID
    reused meanwhile, is not judged: the lease then simply expires."""
    now = timezone.now()
    with transaction.atomic():
        batch = (
            RunBatch.objects.select_for_update().select_related("run").filter(pk=batch_id).first()
        )
        if batch is None or batch.state in (BatchState.DONE, BatchState.FAILED):
            return None
        if (
            batch.state == BatchState.LEASED
            and batch.lease_expires_at
            and batch.lease_expires_at > now
            and not lease_holder_gone(batch.lease_holder)
        ):
            return None
        batch.state = BatchState.LEASED
        batch.lease_token = token
        batch.lease_holder = lease_holder_here()
        batch.lease_expires_at = now + timedelta(seconds=settings.PIPELINE_BATCH_LEASE_SECONDS)
        batch.attempts += 1
        batch.save(
            update_fields=["state", "lease_token", "lease_holder", "lease_expires_at", "attempts"]
        )
        Run.objects.filter(pk=batch.run_id, status=RunStatus.WAITING_FOR_QUOTA).update(
            status=RunStatus.RUNNING, status_message=""
        )
    return batch


def lease_holder_here() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_holder_gone(holder: str) -> bool:
    """True only when the holder was a process of this host that has exited."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: existence check, nothing is sent
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, under another user
        return False
    return False


def _renewer(batch_id: int, token: str) -> Callable[[], None]:
    def renew() -> None:
        # Before every call: a slow batch (bisecting, in-process retries) keeps its lease.
        until = timezone.now() + timedelta(seconds=settings.PIPELINE_BATCH_LEASE_SECONDS)
        RunBatch.objects.filter(pk=batch_id, lease_token=token).update(lease_expires_at=until)

    return renew


def batch_process(*, batch_id: int, transport: httpx.BaseTransport | None = None) -> BatchOutcome:
    """The batch task's work. Idempotent: records already in a terminal state are never sent
    or counted again, so a redelivered or re-queued batch changes nothing the second time."""
    from integrations.registry import client_for

    token = str(uuid.uuid4())
    batch = batch_lease(batch_id=batch_id, token=token)
    if batch is None:
        return BatchOutcome(batch_id=batch_id, state="skipped")
    started = timezone.now()
    run = batch.run
    workflow = run.workflow
    # The source row is read only for the few records that fail (_apply): decoding 100 of them
    # on every batch cost more CPU than the rest of the record.
    records = list(
        RunRecord.objects.filter(pk__in=batch.record_ids, state=RecordState.TRANSFORMED)
        .defer("raw", "errors")
        .order_by("position")
    )
    results = _Results()
    synced = dict(
        SyncedContact.objects.filter(
            workflow=workflow, match_key__in=[r.match_key for r in records]
        ).values_list("match_key", "values_hash")
    )
    to_send = []
    for record in records:
        if synced.get(record.match_key) == values_hash(record.values):
            results.unchanged.append(record.pk)
        else:
            to_send.append(record)
    error: ProviderError | None = None
    try:
        if to_send and workflow.warehouse_connection_id:
            _warehouse_upsert(workflow, run, to_send)
        if to_send:
            client = client_for(
                workflow.destination_connection,
                transport=transport,
                max_retry_wait=BATCH_IN_PROCESS_WAIT,
            )
            try:
                _upsert_isolating(client, workflow, to_send, results, _renewer(batch_id, token))
            finally:
                client.close()
    except ProviderError as exc:
        error = exc
    except (ValueError, ValidationError) as exc:  # a misconfigured connection: retrying cannot help
        error = ProviderError(f"connection misconfigured: {exc}", permanent=True)
        error.kind = "configuration"
    return _record(batch, token, records, results, error, started)


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
    results: _Results,
    renew: Callable[[], None],
) -> None:
    queue: list[list[RunRecord]] = [records]
    while queue:
        group = queue.pop(0)
        renew()
        try:
            reply = client.batch_upsert(
                workflow.destination_object, _inputs(workflow, group), id_property=workflow.match_on
            )
        except BatchRejected as rejection:
            blamed = sorted(set(rejection.input_indexes))
            if blamed:
                for index in blamed:
                    results.failed[group[index].pk] = (
                        rejection.category or "VALIDATION_ERROR",
                        _blame(rejection, group[index]),
                    )
                rest = [r for i, r in enumerate(group) if i not in blamed]
                if rest:
                    queue.insert(0, rest)
            elif len(group) == 1:
                results.failed[group[0].pk] = (
                    rejection.category or "VALIDATION_ERROR",
                    _blame(rejection, group[0]),
                )
            else:
                middle = len(group) // 2
                queue[:0] = [group[:middle], group[middle:]]
            continue
        for success in reply.succeeded:
            if success.index is not None:
                results.succeeded[group[success.index].pk] = (success.object_id, success.new)
        for failure in reply.failed:
            if failure.index is not None:
                results.failed[group[failure.index].pk] = (
                    failure.category or "VALIDATION_ERROR",
                    [failure.message or "rejected by HubSpot"],
                )
        for index in reply.unaccounted(len(group)):
            results.failed.setdefault(
                group[index].pk,
                (
                    "no_result",
                    ["HubSpot's reply did not mention this record; reprocess to retry it"],
                ),
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
    client = client_for(workflow.warehouse_connection)
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


def _record(
    batch: RunBatch,
    token: str,
    records: list[RunRecord],
    results: _Results,
    error: ProviderError | None,
    started: Any,
) -> BatchOutcome:
    """Write every decided outcome; then either finish the batch or hand it back for later."""
    max_attempts = settings.PIPELINE_BATCH_MAX_ATTEMPTS
    undecided = [
        r
        for r in records
        if r.pk not in results.succeeded
        and r.pk not in results.failed
        and r.pk not in results.unchanged
    ]
    retry_in: float | None = None
    next_state = BatchState.DONE
    run_update: dict[str, Any] = {}
    if error is not None and undecided:
        if isinstance(error, RateLimited) and error.daily:
            next_state = BatchState.PENDING
            _pause_for_quota(batch, error)
        elif isinstance(error, RateLimited):
            # Back-pressure, not a failure: wait the portal's window out (10 s after a
            # ten-secondly 429, as HubSpot's own SDK does, docs/reference/hubspot.md#rate-limits) as a Celery
            # countdown, and do not count it as an attempt, so a 429 storm never exhausts a
            # batch into dead letters (fault test F6, docs/reference/reliability.md#fault-tests).
            next_state = BatchState.PENDING
            retry_in = _countdown(error, batch.attempts)
        elif not error.permanent and batch.attempts < max_attempts:
            next_state = BatchState.PENDING
            retry_in = _countdown(error, batch.attempts)
        else:
            category = error.kind if error.permanent else "retries_exhausted"
            for record in undecided:
                results.failed[record.pk] = (category, [str(error)])
            next_state = BatchState.DONE if error.permanent else BatchState.FAILED
    now = timezone.now()
    with transaction.atomic():
        # Lock order: this batch, its records, then the run. The run row is locked last and only
        # for the counters, so the batches of one run write their records in parallel and queue
        # only for that short update (locking it first serialized a run's loaders: measured 55 %
        # of the rate-limit ceiling with 16 loaders). Two loaders of the same batch (a lease
        # expired) still serialize on the batch row, and the record state guard makes the
        # second one change nothing.
        current = RunBatch.objects.select_for_update().get(pk=batch.pk)
        mine = current.state == BatchState.LEASED and current.lease_token == token
        run = Run.objects.select_related("workflow").get(pk=batch.run_id)
        counts = _apply(run, records, results, batch.attempts, now)
        load_ms = round((now - started).total_seconds() * 1000)
        run_update = {
            "succeeded": F("succeeded") + counts["succeeded"],
            "created": F("created") + counts["created"],
            "skipped": F("skipped") + counts["skipped"],
            "dead_lettered": F("dead_lettered") + counts["dead_lettered"],
            "failed": F("failed") + counts["dead_lettered"],
            "load_ms": F("load_ms") + load_ms,
        }
        if mine and next_state == BatchState.PENDING:
            available = (
                now + timedelta(seconds=retry_in) if retry_in is not None else current.available_at
            )
            RunBatch.objects.filter(pk=batch.pk).update(
                state=BatchState.PENDING,
                lease_token="",
                lease_holder="",
                lease_expires_at=None,
                available_at=available,
                dispatched_at=available if retry_in is not None else None,
                last_error=str(error)[:300],
            )
            if isinstance(error, RateLimited):
                # Undo the attempt: waiting for a quota reset or a rate window is not a failed try.
                RunBatch.objects.filter(pk=batch.pk).update(attempts=F("attempts") - 1)
        elif mine:
            RunBatch.objects.filter(pk=batch.pk).update(
                state=next_state,
                lease_token="",
                lease_holder="",
                lease_expires_at=None,
                finished_at=now,
                last_error=str(error)[:300] if error else "",
            )
            run_update["batches_done"] = F("batches_done") + 1
        run = Run.objects.select_for_update().get(pk=batch.run_id)
        Run.objects.filter(pk=run.pk).update(**run_update)
        if mine and next_state != BatchState.PENDING:
            run.refresh_from_db()
            if not run_batches_open(run_id=run.pk).exists():
                run_finish(run=run)
    return BatchOutcome(batch_id=batch.pk, retry_in=retry_in if mine else None, state=next_state)


def _apply(
    run: Run, records: list[RunRecord], results: _Results, attempts: int, now: Any
) -> dict[str, int]:
    """Move records out of TRANSFORMED exactly once (the state guard in _records_mark), write
    dead letters and sync state for the ones that moved. Returns how many moved, for the
    counters."""
    decided: dict[int, tuple[str, str, str]] = {}  # record id → (state, skip reason, HubSpot id)
    for pk, (object_id, _new) in results.succeeded.items():
        decided[pk] = (RecordState.LOADED, "", str(object_id or ""))
    for pk in results.unchanged:
        decided[pk] = (RecordState.SKIPPED, SkipReason.UNCHANGED, "")
    for pk in results.failed:
        decided[pk] = (RecordState.DEAD_LETTERED, "", "")
    by_id = {r.pk: r for r in records}
    decided = {pk: outcome for pk, outcome in decided.items() if pk in by_id}
    moved = _records_mark(decided=decided, now=now)
    failed = [
        pk
        for pk, (state, _, _) in decided.items()
        if pk in moved and state == RecordState.DEAD_LETTERED
    ]
    source_rows = (
        dict(RunRecord.objects.filter(pk__in=failed).values_list("pk", "raw")) if failed else {}
    )
    letters, synced = [], []
    counts = {"succeeded": 0, "created": 0, "skipped": 0, "dead_lettered": 0}
    for pk, (state, _skip_reason, object_id) in decided.items():
        if pk not in moved:
            continue  # already moved by an earlier run of this batch: counted then
        record = by_id[pk]
        if state == RecordState.LOADED:
            counts["succeeded"] += 1
            counts["created"] += int(results.succeeded[pk][1])
            synced.append(
                SyncedContact(
                    workflow_id=run.workflow_id,
                    match_key=record.match_key,
                    values_hash=values_hash(record.values),
                    hubspot_id=object_id,
                    last_synced_at=now,
                    last_run_id=run.pk,
                )
            )
        elif state == RecordState.SKIPPED:
            counts["skipped"] += 1
        else:
            category, messages = results.failed[pk]
            counts["dead_lettered"] += 1
            letters.append(
                DeadLetter(
                    run=run,
                    record=record,
                    workflow_id=run.workflow_id,
                    stage="load",
                    category=str(category)[:60],
                    errors=messages,
                    payload=hubspot_properties(record.values),
                    source_row=source_rows[pk],
                    attempts=attempts,
                )
            )
            dead_letter_describe(  # the record passed validation: HubSpot's errors only
                letter=letters[-1],
                match_key=record.match_key,
                match_on=run.workflow.match_on,
                record_errors=[],
            )
    DeadLetter.objects.bulk_create(letters)
    SyncedContact.objects.bulk_create(
        synced,
        update_conflicts=True,
        unique_fields=["workflow", "match_key"],
        update_fields=["values_hash", "hubspot_id", "last_synced_at", "last_run"],
    )
    return counts


def _records_mark(*, decided: dict[int, tuple[str, str, str]], now: Any) -> set[int]:
    """Move each record still TRANSFORMED to its decided state; returns the ids that moved.
    The state guard is what makes a batch redone after a crash, or loaded twice after its
    lease expired, change nothing the second time: the second UPDATE waits for the first's
    row locks, then finds the records no longer transformed.

    On PostgreSQL one UPDATE joined to a VALUES list sets state, skip reason and HubSpot id
    and returns the ids: each UPDATE rewrites whole rows and their index entries, so one
    statement (instead of a locking SELECT and two UPDATEs) is a third of the database's work
    per batch. (Django's bulk_update builds a CASE per field and row: measured at ~100 ms of a
    150 ms batch.) Elsewhere: one UPDATE per state, and bulk_update for the HubSpot ids."""
    if not decided:
        return set()
    if db_connection.vendor == "postgresql":
        table = RunRecord._meta.db_table
        values = ", ".join(["(%s::bigint, %s, %s, %s)"] * len(decided))
        params: list[Any] = [now]
        for pk, (state, skip_reason, hubspot_id) in decided.items():
            params += [pk, state, skip_reason, hubspot_id]
        params.append(RecordState.TRANSFORMED)
        with db_connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS r SET state = v.state, updated_at = %s, "  # noqa: S608 - table from the model
                "skip_reason = COALESCE(NULLIF(v.skip_reason, ''), r.skip_reason), "
                "hubspot_id = COALESCE(NULLIF(v.hubspot_id, ''), r.hubspot_id) "
                f"FROM (VALUES {values}) AS v(id, state, skip_reason, hubspot_id) "
                "WHERE r.id = v.id AND r.state = %s RETURNING r.id",
                params,
            )
            return {row[0] for row in cursor.fetchall()}
    live = set(
        RunRecord.objects.select_for_update()
        .filter(pk__in=list(decided), state=RecordState.TRANSFORMED)
        .values_list("pk", flat=True)
    )
    by_state: dict[tuple[str, str], list[int]] = {}
    hubspot_ids: list[tuple[int, str]] = []
    for pk in live:
        state, skip_reason, hubspot_id = decided[pk]
        by_state.setdefault((state, skip_reason), []).append(pk)
        if hubspot_id:
            hubspot_ids.append((pk, hubspot_id))
    for (state, skip_reason), ids in by_state.items():
        fields = {"state": state, "updated_at": now}
        if skip_reason:
            fields["skip_reason"] = skip_reason
        RunRecord.objects.filter(pk__in=ids).update(**fields)
    if hubspot_ids:
        RunRecord.objects.bulk_update(
            [RunRecord(pk=pk, hubspot_id=object_id) for pk, object_id in hubspot_ids],
            ["hubspot_id"],
        )
    return live


def _countdown(error: ProviderError, attempts: int) -> float:
    """Provider hint first (Retry-After, the 10 s window), else exponential backoff; capped
    well below Redis's visibility timeout (docs/reference/reliability.md#celery-delivery: a longer countdown is redelivered in a loop)."""
    if error.retry_after is not None:
        return min(float(error.retry_after), 600.0)
    return float(min(600, 2**attempts * 5))


def _pause_for_quota(batch: RunBatch, error: RateLimited) -> None:
    from integrations.services import connection_pause

    until = timezone.now() + timedelta(seconds=error.retry_after or 3600)
    run = batch.run
    connection_pause(
        connection_id=run.workflow.destination_connection_id,
        until=until,
        reason="HubSpot daily API limit reached; resumes after the portal's midnight",
    )
    run_batches_open(run_id=run.pk).update(available_at=until)
    Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.WAITING_FOR_QUOTA,
        status_message=f"HubSpot daily limit reached; resumes at {until:%Y-%m-%d %H:%M} UTC",
    )
