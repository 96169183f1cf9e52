"""A run, the records it carries, the batches that load them, and the ones that failed.

State lives here, not in the broker: a batch has a state and a lease, a record moves through
staged → transformed → loaded | dead_lettered | skipped and never back, so redoing a batch
after a crash changes nothing the second time (docs/reference/reliability.md#celery-delivery, #resumable-runs).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RunTrigger(models.TextChoices):
    CSV = "csv", "CSV import"
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    REPROCESS = "reprocess", "Reprocess"


class NotificationStatus(models.TextChoices):
    """What became of the Slack message about a run or a routing decision. A failure is kept
    on the record (and counted for alerts) instead of only logged: a notification nobody
    receives is otherwise invisible."""

    NONE = "", "—"
    SENT = "sent", "Sent"
    FAILED = "failed", "Notification failed"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING_FOR_QUOTA = "waiting_for_quota", "Waiting for quota"
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial"
    FAILURE = "failure", "Failure"


FINISHED_STATUSES = (RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILURE)


class Run(models.Model):
    """One execution of a workflow. Invariant once finished:
    records_in = succeeded + dead_lettered + skipped. ``failed`` counts the dead letters of
    the load stage (rejected by the destination or retries exhausted), a subset of dead_lettered."""

    workflow = models.ForeignKey(
        "pipelines.Workflow", on_delete=models.PROTECT, related_name="runs"
    )
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    triggered_by_label = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True
    )
    status_message = models.CharField(max_length=300, blank=True)
    mapping_version = models.ForeignKey(
        "pipelines.FieldMappingVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
    )
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    input_file = models.FileField(upload_to="imports/%Y/%m/", blank=True, max_length=300)
    input_filename = models.CharField(max_length=255, blank=True)
    file_encoding = models.CharField(max_length=20, blank=True)
    file_delimiter = models.CharField(max_length=4, blank=True)

    records_in = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0, help_text="Of the succeeded: new in HubSpot.")
    failed = models.PositiveIntegerField(default=0)
    dead_lettered = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    staged_at = models.DateTimeField(null=True, blank=True)
    prepared_at = models.DateTimeField(
        null=True, blank=True, help_text="Deduped and split into batches."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    # {"stage": ms, "transform": ms, "dedupe": ms, "load": ms, "finish": ms}
    timings = models.JSONField(default=dict, blank=True)
    load_ms = models.PositiveBigIntegerField(
        default=0, help_text="Summed by the batches (F() increments)."
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notification_status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, blank=True, default=""
    )
    notification_error = models.CharField(max_length=300, blank=True)
    # Liveness, kept in the database because the broker may lose every message (docs/operations.md,
    # "Work is claimed from the database"): a worker stamps worker_seen_at whenever it claims a
    # chunk or a batch of this run; progress_at moves when one is finished. A run with work
    # pending and no progress for PIPELINE_RUN_STALLED_SECONDS is marked stalled (stalled_at,
    # with the reason if known) until it moves again.
    worker_seen_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    stalled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stall_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["workflow", "-id"], name="pipelines_run_workflow_idx")]
        permissions = [
            ("reprocess_deadletter", "Can reprocess dead letters"),
            ("import_csv", "Can import CSV files into a workflow"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.get_trigger_display()}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class RecordSource(models.TextChoices):
    CSV = "csv", "CSV file"
    WEBHOOK = "webhook", "Webhook"
    REPROCESS = "reprocess", "Reprocess"
    HUBSPOT = "hubspot", "HubSpot search"  # company enrichment selects companies


class RecordState(models.TextChoices):
    STAGED = "staged", "Staged"
    TRANSFORMED = "transformed", "Transformed"
    LOADED = "loaded", "Loaded"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"
    SKIPPED = "skipped", "Skipped"


TERMINAL_STATES = (RecordState.LOADED, RecordState.DEAD_LETTERED, RecordState.SKIPPED)


class SkipReason(models.TextChoices):
    DUPLICATE = "duplicate in run", "Duplicate in run"
    UNCHANGED = "unchanged", "Unchanged since last sync"
    SUPPRESSED = "suppressed", "Suppressed (privacy request)"
    NO_DOMAIN = "no domain", "No company domain to enrich"  # company enrichment
    DRY_RUN = "dry run", "Dry run: nothing written"


class RunRecord(models.Model):
    """One input record with its lineage: file row or event id, raw payload, mapped values.

    Every index here is paid on each staged record (COPY of 100k rows: 1.2 s with no index,
    2.0 s with the nine Django makes by default, measured on PostgreSQL 15), so it has only
    the ones a query needs: run_id is the head of the (run, position) key; match_key is only
    compared for equality, so it has no LIKE index; the mostly-empty foreign keys are
    indexed only where set (what ON DELETE needs).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="records", db_index=False)
    position = models.PositiveIntegerField(help_text="Order of arrival within the run.")
    source = models.CharField(max_length=20, choices=RecordSource.choices)
    row_number = models.PositiveIntegerField(
        null=True, blank=True, help_text="CSV: line in the file (header = 1)."
    )
    event_id = models.CharField(max_length=200, blank=True)
    inbound_event = models.ForeignKey(
        "pipelines.InboundEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="records",
        db_index=False,
    )
    reprocessed_from = models.ForeignKey(
        "pipelines.DeadLetter",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    raw = models.JSONField(default=dict)
    values = models.JSONField(
        default=dict, blank=True, help_text="Mapped values, as sent to the destination."
    )
    extras = models.JSONField(
        default=dict, blank=True, help_text="Unmapped columns, kept with the record."
    )
    errors = models.JSONField(default=list, blank=True)
    match_key = models.CharField(max_length=320, blank=True)
    state = models.CharField(max_length=20, choices=RecordState.choices, default=RecordState.STAGED)
    skip_reason = models.CharField(max_length=40, choices=SkipReason.choices, blank=True)
    dedupe_survivor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_records",
        db_index=False,
    )
    hubspot_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "position"], name="pipelines_record_position_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["run", "state"], name="pipelines_record_state_idx"),
            models.Index(fields=["match_key"], name="pipelines_record_match_key_idx"),
            models.Index(
                fields=["inbound_event"],
                name="pipelines_record_event_idx",
                condition=models.Q(inbound_event__isnull=False),
            ),
            models.Index(
                fields=["reprocessed_from"],
                name="pipelines_record_reprocess_idx",
                condition=models.Q(reprocessed_from__isnull=False),
            ),
            models.Index(
                fields=["dedupe_survivor"],
                name="pipelines_record_survivor_idx",
                condition=models.Q(dedupe_survivor__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        where = f"row {self.row_number}" if self.row_number else f"event {self.event_id}"
        return f"Run {self.run_id} {where}"


class BatchState(models.TextChoices):
    PENDING = "pending", "Pending"
    LEASED = "leased", "Leased"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# A run is not finished while any of its batches is in one of these states.
BATCH_STATES_OPEN = (BatchState.PENDING, BatchState.LEASED)


class RunBatch(models.Model):
    """Up to 100 records loaded by one task. ``pending`` batches are dispatched (again) by the
    sweeper once ``available_at`` passes and no dispatch is in flight; a ``leased`` batch whose
    lease expired belonged to a worker that died, and is made pending again."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="batches")
    sequence = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.PENDING)
    record_ids = models.JSONField(default=list)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.CharField(max_length=36, blank=True)
    lease_holder = models.CharField(
        max_length=255, blank=True, help_text="host:pid of the worker process holding it."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    available_at = models.DateTimeField(
        null=True, blank=True, help_text="Not before (quota reset, backoff)."
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        verbose_name_plural = "run batches"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "sequence"], name="pipelines_batch_sequence_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "lease_expires_at"], name="pipelines_batch_sweep_idx")
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} batch {self.sequence} ({self.state})"


class RunChunk(models.Model):
    """A slice of a CSV run's input file (whole rows, ``byte_start`` to ``byte_end``), staged
    by one task in one transaction. Slices let several workers stage one big file at once;
    the run is staged when every chunk is. ``dispatched_at`` lets a lost or stalled task be
    sent again (the chunk row lock and ``staged_at`` make a second copy a no-op)."""

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="chunks", db_index=False
    )  # (run, sequence)
    sequence = models.PositiveIntegerField()
    byte_start = models.PositiveBigIntegerField()
    byte_end = models.PositiveBigIntegerField()
    first_row_number = models.PositiveIntegerField(
        help_text="Row number of its first line (header = 1)."
    )
    rows = models.PositiveIntegerField(help_text="CSV rows in the slice, blank ones included.")
    records = models.PositiveIntegerField(default=0, help_text="Records staged from it.")
    duplicate_keys = models.JSONField(
        default=list,
        blank=True,
        help_text="Match keys of its rows that occur more than once in the file: "
        "held back until the whole file is staged and deduplicated.",
    )
    stage_ms = models.PositiveIntegerField(default=0)
    transform_ms = models.PositiveIntegerField(default=0)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    staged_at = models.DateTimeField(null=True, blank=True)
    # A database refusal while staging (not a lost task): counted, and the second identical
    # one fails the run naming the row instead of re-sending the chunk for ever.
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "sequence"], name="pipelines_chunk_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"Run {self.run_id} chunk {self.sequence} ({'staged' if self.staged_at else 'pending'})"
        )


class DeadLetterResolution(models.TextChoices):
    REPROCESSED = "reprocessed", "Reprocessed"
    IGNORED = "ignored", "Ignored"
    # Same person, same workflow: a newer dead letter replaces this one in the queue…
    SUPERSEDED = "superseded", "Superseded by a newer failure"
    # …or a later run synced them, so there is nothing left to fix.
    SYNCED = "synced", "Synced by a later run"


class DeadLetterStage(models.TextChoices):
    TRANSFORM = "transform", "Transform"
    LOAD = "load", "Load"
    ROUTE = "route", "Route"
    ENRICH = "enrich", "Enrich"  # a company enrichment source failed (enrichment app)
    # An event-hub delivery that gave up (events app): no run, record or workflow; the events
    # app links the letter to its delivery and registers how it is edited and redelivered
    # (pipelines/dead_letter_kinds.py).
    DELIVER = "deliver", "Deliver (event hub)"


class DeadLetter(models.Model):
    """A record that could not be delivered, with every reason. Nothing is dropped: it waits
    here until an admin edits and reprocesses it, or ignores it (docs/reference/reliability.md#dead-letters).

    A pipeline letter always has its run, record and workflow. An event-hub delivery letter
    (stage ``deliver``) has none of them: the events app links it to its delivery."""

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="dead_letters", null=True, blank=True
    )
    record = models.OneToOneField(
        RunRecord, on_delete=models.CASCADE, related_name="dead_letter", null=True, blank=True
    )
    workflow = models.ForeignKey(
        "pipelines.Workflow",
        on_delete=models.CASCADE,
        related_name="dead_letters",
        null=True,
        blank=True,
    )
    stage = models.CharField(
        max_length=20,
        choices=DeadLetterStage.choices,
        help_text="Where it failed; reprocessing repeats that step (a route letter routes again).",
    )
    category = models.CharField(max_length=60, db_index=True)
    errors = models.JSONField(default=list, help_text="Every message, not just the first.")
    reason = models.CharField(
        max_length=200, blank=True, help_text="The first error without the record's values."
    )
    identity = models.CharField(
        max_length=320, blank=True, help_text="Who it is about: email, or a source key."
    )
    payload = models.JSONField(default=dict, help_text="The record as it would be sent.")
    original_payload = models.JSONField(null=True, blank=True, help_text="Before the first edit.")
    source_row = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=20, choices=DeadLetterResolution.choices, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_in_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="resolved_dead_letters"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["workflow", "resolution", "-id"], name="pipelines_deadletter_queue_idx"
            ),
            models.Index(
                fields=["workflow", "identity"],
                condition=models.Q(resolution=""),
                name="pipelines_dl_open_identity",
            ),
        ]
        # On PostgreSQL the search also has trigram indexes on identity, reason and errors:
        # migration 0017, raw SQL because SQLite has no such index (docs/pipelines.md).
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stage="deliver")
                | models.Q(run__isnull=False, record__isnull=False, workflow__isnull=False),
                name="pipelines_deadletter_record_letter_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Dead letter {self.pk} ({self.category})"

    @property
    def is_resolved(self) -> bool:
        return bool(self.resolution)
