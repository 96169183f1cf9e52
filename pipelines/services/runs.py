"""A run's life after staging: dedupe, dead letters of invalid records, batches, finish.

Completion is tracked in the database, not with a Celery chord: each batch updates the run's
counters under a row lock on the run, and whichever batch finishes last finishes the run
(docs/reference/reliability.md#resumable-runs). Counters are recomputed from record states at the finish, so
the invariant records_in = succeeded + dead_lettered + skipped holds by construction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.csv_files import CsvRefused
from pipelines.enqueue import RUN_NOTIFY, enqueue_on_commit
from pipelines.models import (
    BatchState,
    DeadLetter,
    DeadLetterStage,
    RecordState,
    Run,
    RunBatch,
    RunChunk,
    RunRecord,
    RunStatus,
    RunTrigger,
    SkipReason,
)
from pipelines.models.runs import BATCH_STATES_OPEN, FINISHED_STATUSES
from pipelines.selectors import run_record_state_counts
from pipelines.services.dead_letters import dead_letter_describe, dead_letters_settle
from pipelines.services.staging import run_stage

# HubSpot batch endpoints take at most 100 inputs (docs/reference/hubspot.md#batch-endpoints)
BATCH_SIZE = 100


def run_prepare(*, run_id: int, dispatch: bool = True) -> Run:
    """Stage (if not yet), then dedupe, dead-letter the invalid, split into batches and
    dispatch them. Each step is idempotent; the second call on a prepared run only
    re-dispatches what is pending. With ``dispatch`` a CSV run's chunks are staged by their
    own tasks, and the last of them calls this again to go on; without it, everything
    happens here."""
    try:
        run = run_stage(run_id=run_id, dispatch=dispatch)
    except CsvRefused as refused:
        # Found past the first 64 KB (e.g. one undecodable byte): nothing was staged.
        Run.objects.filter(pk=run_id, staged_at__isnull=True).update(
            status=RunStatus.FAILURE,
            status_message=refused.message[:300],
            finished_at=timezone.now(),
        )
        return Run.objects.get(pk=run_id)
    if run.prepared_at is not None or run.is_finished or run.staged_at is None:
        return run
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.prepared_at is not None:
            return run
        tick = time.perf_counter()
        run_dedupe(run=run)
        dedupe_ms = round((time.perf_counter() - tick) * 1000)
        _dead_letters_for_invalid(run)
        run.batches_total = _batches_create(run=run)
        counts = run_record_state_counts(run_id=run.pk)
        run.dead_lettered = counts.get(RecordState.DEAD_LETTERED, 0)
        run.skipped = counts.get(RecordState.SKIPPED, 0)
        run.prepared_at = timezone.now()
        run.timings = {**run.timings, "dedupe": dedupe_ms}
        run.save(
            update_fields=["dead_lettered", "skipped", "batches_total", "prepared_at", "timings"]
        )
        if run.batches_total == 0:
            return run_finish(run=run)
        if dispatch:
            transaction.on_commit(lambda: batches_dispatch(run_id=run_id))
    return run


def run_dedupe(*, run: Run) -> int:
    """Merge records of the run sharing a match key. Stated rule: the latest record survives,
    and for every property the latest non-empty value wins; the others become skipped with
    reason "duplicate in run" and point to the survivor. Returns how many were merged away.
    Also what keeps two inputs with one email out of the same HubSpot call (docs/reference/hubspot.md#batch-endpoints)."""
    keys = list(
        RunRecord.objects.filter(run=run, state=RecordState.TRANSFORMED)
        .values("match_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("match_key", flat=True)
    )
    merged_away = 0
    now = timezone.now()
    for start in range(0, len(keys), 500):
        groups: dict[str, list[RunRecord]] = defaultdict(list)
        records = RunRecord.objects.filter(
            run=run, state=RecordState.TRANSFORMED, match_key__in=keys[start : start + 500]
        ).order_by("position")
        for record in records:
            groups[record.match_key].append(record)
        changed: list[RunRecord] = []
        for group in groups.values():
            survivor = group[-1]
            values: dict[str, Any] = {}
            extras: dict[str, Any] = {}
            for record in group:
                for target, source in ((values, record.values), (extras, record.extras)):
                    for key, value in source.items():
                        if value not in (None, "") or key not in target:
                            target[key] = value
            survivor.values, survivor.extras, survivor.updated_at = values, extras, now
            changed.append(survivor)
            for record in group[:-1]:
                record.state, record.skip_reason = RecordState.SKIPPED, SkipReason.DUPLICATE
                record.dedupe_survivor, record.updated_at = survivor, now
                changed.append(record)
                merged_away += 1
        RunRecord.objects.bulk_update(
            changed,
            ["values", "extras", "state", "skip_reason", "dedupe_survivor", "updated_at"],
            batch_size=500,
        )
    return merged_away


def _dead_letters_for_invalid(run: Run) -> None:
    invalid = RunRecord.objects.filter(
        run=run, state=RecordState.DEAD_LETTERED, dead_letter__isnull=True
    )
    buffer: list[DeadLetter] = []
    for record in invalid.iterator(chunk_size=1000):
        buffer.append(
            DeadLetter(
                run=run,
                record=record,
                workflow_id=run.workflow_id,
                stage=DeadLetterStage.TRANSFORM,
                category="validation",
                errors=[
                    f"{e.get('source')} → {e.get('target')}: {e.get('message')}"
                    for e in record.errors
                ],
                payload=record.values,
                source_row=record.raw,
                attempts=0,
            )
        )
        dead_letter_describe(
            letter=buffer[-1],
            match_key=record.match_key,
            match_on=run.workflow.match_on,
            record_errors=record.errors,
            rules=run.mapping_version.rules if run.mapping_version else None,
        )
        if len(buffer) >= 1000:
            DeadLetter.objects.bulk_create(buffer)
            buffer = []
    DeadLetter.objects.bulk_create(buffer)


def _batches_create(*, run: Run) -> int:
    """Cut the run's loadable records into batches of BATCH_SIZE, in file order. On
    PostgreSQL one INSERT … SELECT does it in the database (100k records: ~0.1 s against
    ~0.45 s for streaming the ids through Python); elsewhere the ids are streamed and written
    500 batches at a time, so a million-row run never holds a million ids in memory."""
    if connection.vendor == "postgresql":
        return _batches_create_in_database(run=run)
    ids = (
        RunRecord.objects.filter(run=run, state=RecordState.TRANSFORMED)
        .order_by("position")
        .values_list("pk", flat=True)
        .iterator(chunk_size=10_000)
    )
    pending: list[RunBatch] = []
    current: list[int] = []
    sequence = 0
    for record_id in ids:
        current.append(record_id)
        if len(current) == BATCH_SIZE:
            sequence += 1
            pending.append(RunBatch(run=run, sequence=sequence, record_ids=current))
            current = []
            if len(pending) == 500:
                RunBatch.objects.bulk_create(pending)
                pending = []
    if current:
        sequence += 1
        pending.append(RunBatch(run=run, sequence=sequence, record_ids=current))
    RunBatch.objects.bulk_create(pending)
    return sequence


def _batches_create_in_database(*, run: Run) -> int:
    batch, record = RunBatch._meta.db_table, RunRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {batch} (run_id, sequence, state, record_ids, attempts, lease_token, lease_holder, last_error,
                                  created_at)
            SELECT %(run)s, n / %(size)s + 1, %(pending)s, jsonb_agg(id ORDER BY n), 0, '', '', '', %(now)s
            FROM (SELECT id, row_number() OVER (ORDER BY position) - 1 AS n
                  FROM {record} WHERE run_id = %(run)s AND state = %(state)s) AS numbered
            GROUP BY n / %(size)s
            """,  # noqa: S608 - table names from the models, values as parameters
            {
                "run": run.pk,
                "size": BATCH_SIZE,
                "pending": BatchState.PENDING,
                "now": timezone.now(),
                "state": RecordState.TRANSFORMED,
            },
        )
        return cursor.rowcount


def batches_dispatch(*, run_id: int | None = None, batch_ids: list[int] | None = None) -> int:
    """Send the batch task for pending batches that are due. Marks them dispatched first, so
    the sweeper does not send them again before the grace period."""
    from pipelines.tasks import batch_process_task

    now = timezone.now()
    qs = RunBatch.objects.filter(state=BatchState.PENDING)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if batch_ids is not None:
        qs = qs.filter(pk__in=batch_ids)
    qs = qs.exclude(available_at__gt=now)
    ids = list(qs.values_list("pk", flat=True))
    RunBatch.objects.filter(pk__in=ids).update(dispatched_at=now)
    for batch_id in ids:
        batch_process_task.delay(batch_id)
    return len(ids)


def run_finish(*, run: Run) -> Run:
    """Recount from record states, set status, duration and timings. Call with the run row
    locked (inside the batch's transaction) or alone; a finished run is left as it is."""
    if run.is_finished:
        return run
    tick = time.perf_counter()
    counts = run_record_state_counts(run_id=run.pk)
    if counts.get(RecordState.STAGED, 0) or counts.get(RecordState.TRANSFORMED, 0):
        return run  # records still in flight: not the last batch after all
    now = timezone.now()
    run.succeeded = counts.get(RecordState.LOADED, 0)
    run.dead_lettered = counts.get(RecordState.DEAD_LETTERED, 0)
    run.skipped = counts.get(RecordState.SKIPPED, 0)
    run.failed = DeadLetter.objects.filter(run=run, stage=DeadLetterStage.LOAD).count()
    run.records_in = sum(counts.values())
    if run.dead_lettered == 0:
        run.status = RunStatus.SUCCESS
    elif run.succeeded == 0 and run.skipped == 0:
        run.status = RunStatus.FAILURE
    else:
        run.status = RunStatus.PARTIAL
    run.status_message = ""
    dead_letters_settle(run=run)
    run.finished_at = now
    run.duration_ms = round(((now - (run.started_at or run.created_at)).total_seconds()) * 1000)
    run.timings = {
        **run.timings,
        "load": run.load_ms,
        "finish": round((time.perf_counter() - tick) * 1000),
    }
    run.save()
    audit_event_record(
        action="run.finished",
        actor_label=f"pipeline:{run.workflow.slug}",
        obj=run,
        metadata={
            k: getattr(run, k)
            for k in ("status", "records_in", "succeeded", "failed", "dead_lettered", "skipped")
        },
    )
    if run.workflow.slack_connection_id:
        enqueue_on_commit(RUN_NOTIFY, run.pk)
    return run


def run_notify(*, run_id: int, transport: Any = None) -> bool:
    """Slack: "N contacts synced, M failed" with a link to the run. Once per run."""
    from integrations.registry import client_for
    from integrations.slack.client import SlackClient

    run = Run.objects.select_related("workflow__slack_connection").get(pk=run_id)
    connection = run.workflow.slack_connection
    if connection is None or run.notified_at is not None or not run.is_finished:
        return False
    link = f"{settings.PUBLIC_BASE_URL}/{settings.ADMIN_URL}pipelines/run/{run.pk}/change/"
    noun = run.workflow.destination_object
    text = (
        f"{run.workflow.slug}: {run.succeeded} {noun} synced, {run.dead_lettered} failed, "
        f"{run.skipped} skipped. <{link}|Run {run.pk}>"
    )
    client = client_for(connection, transport=transport)
    try:
        if isinstance(client, SlackClient):
            client.post_message(
                run.workflow.slack_channel or connection.options.get("channel", ""), text
            )
        else:
            client.post(text)
    finally:
        client.close()
    Run.objects.filter(pk=run.pk).update(notified_at=timezone.now())
    return True


def run_execute_inline(
    *,
    run_id: int,
    transport: Any = None,
    honour_backoff: bool = True,
    sleep: Any = time.sleep,
    max_wait: float = 30.0,
) -> Run:
    """Everything a worker would do, in this process: `import_csv --wait` without a worker,
    the demo seed, tests. Same services as the tasks. Stops when the run finishes or waits
    for a daily quota. ``honour_backoff=False`` retries at once (tests must not sleep)."""
    from pipelines.services.loading import batch_process

    run_prepare(run_id=run_id, dispatch=False)
    while True:
        run = Run.objects.get(pk=run_id)
        pending = RunBatch.objects.filter(run_id=run_id, state=BatchState.PENDING).order_by(
            "sequence"
        )
        now = timezone.now()
        quota_wait = run.status == RunStatus.WAITING_FOR_QUOTA
        due = list(
            (
                pending
                if not (honour_backoff or quota_wait)
                else pending.exclude(available_at__gt=now)
            ).values_list("pk", flat=True)
        )
        if run.is_finished or (quota_wait and not due):
            return run
        if not due:
            waiting = pending.order_by("available_at").first()
            if waiting is None:  # nothing pending: leased elsewhere, or finished meanwhile
                return run
            sleep(min(max_wait, max(0.0, (waiting.available_at - now).total_seconds())))
            continue
        for batch_id in due:
            batch_process(batch_id=batch_id, transport=transport)


def batches_sweep(*, now: Any = None) -> dict[str, int]:
    """The beat task's work ("Re-queue expired batches", every 30 s). Closes every gap the
    broker leaves (docs/reference/reliability.md#dispatch-after-commit, #celery-delivery): a worker SIGKILLed mid-batch (lease
    expired), a message lost between commit and publish or in a Redis restart (pending, due,
    not dispatched for DISPATCH_GRACE), a run whose last batch died before finishing it."""
    now = now or timezone.now()
    grace = timedelta(seconds=DISPATCH_GRACE_SECONDS)
    expired = list(
        RunBatch.objects.filter(state=BatchState.LEASED, lease_expires_at__lt=now).values_list(
            "pk", flat=True
        )
    )
    RunBatch.objects.filter(pk__in=expired, state=BatchState.LEASED).update(
        state=BatchState.PENDING,
        lease_token="",
        lease_holder="",
        lease_expires_at=None,
        dispatched_at=None,
        last_error="lease expired: the worker stopped before finishing",
    )
    stale = list(
        RunBatch.objects.filter(state=BatchState.PENDING)
        .exclude(available_at__gt=now)
        .exclude(dispatched_at__gt=now - grace)
        .values_list("pk", flat=True)
    )
    dispatched = batches_dispatch(batch_ids=stale) if stale else 0
    finished = 0
    for run_id in (
        Run.objects.filter(
            status__in=[RunStatus.RUNNING, RunStatus.WAITING_FOR_QUOTA], prepared_at__isnull=False
        )
        .exclude(batches__state__in=BATCH_STATES_OPEN)
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run_id)
            finished += int(run_finish(run=run).is_finished)
    from pipelines.tasks import inbound_events_process_task, run_prepare_task

    unprepared = set(
        Run.objects.filter(prepared_at__isnull=True, created_at__lt=now - grace)
        .exclude(status__in=FINISHED_STATUSES)
        .values_list("pk", flat=True)
    )
    for run_id in sorted(unprepared | _runs_with_stalled_chunks(now=now)):
        run_prepare_task.delay(run_id)
    from pipelines.models import InboundEvent

    quiet = now - timedelta(seconds=60)
    for workflow_id in set(
        InboundEvent.objects.filter(
            source="clay", run__isnull=True, workflow__isnull=False, received_at__lt=quiet
        ).values_list("workflow_id", flat=True)
    ):
        inbound_events_process_task.delay(workflow_id)
    # HubSpot MQL events are routed, not staged: re-send the ones whose task never ran.
    from pipelines.routing.tasks import routing_events_process_task

    stranded = list(
        InboundEvent.objects.filter(
            source="hubspot", processed_at__isnull=True, received_at__lt=quiet
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    for start in range(0, len(stranded), 100):
        routing_events_process_task.delay(stranded[start : start + 100])
    return {"expired": len(expired), "dispatched": dispatched, "finished": finished}


def _runs_with_stalled_chunks(*, now: Any) -> set[int]:
    """CSV runs whose staging stalled: a chunk sent PIPELINE_CHUNK_REDISPATCH_SECONDS ago and
    not staged (its task was lost or its worker killed), or every chunk staged but the run not
    marked staged (the last chunk's worker died between the two). run_prepare picks up both."""
    from pipelines.services.chunks import chunk_redispatch_after

    staging = Run.objects.filter(staged_at__isnull=True, trigger=RunTrigger.CSV).exclude(
        status__in=FINISHED_STATUSES
    )
    stalled = set(
        RunChunk.objects.filter(
            run__in=staging,
            staged_at__isnull=True,
            dispatched_at__lt=now - chunk_redispatch_after(),
        ).values_list("run_id", flat=True)
    )
    settled = now - timedelta(seconds=30)
    stalled |= set(
        staging.filter(chunks__isnull=False)
        .exclude(chunks__staged_at__isnull=True)
        .exclude(chunks__staged_at__gt=settled)
        .values_list("pk", flat=True)
    )
    return stalled


# A pending batch sent to the broker but not started after this long is sent again. Long
# enough that a deep queue is not flooded with copies; short enough that a lost message costs
# minutes, not the hour of Redis's visibility timeout.
DISPATCH_GRACE_SECONDS = 10 * 60
