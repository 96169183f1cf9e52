"""Multi-step workflows: a versioned definition, executions that keep their version, and
one row per step with its input, output and status (docs/events.md, "Chains")."""

from __future__ import annotations

from django.db import models


class WorkflowDefinition(models.Model):
    """An immutable version of a chain of steps. Changing the steps adds a version; an
    execution keeps the version it started with."""

    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField()
    trigger_subscription = models.CharField(
        max_length=80, blank=True, help_text="Start an execution for events of this subscription."
    )
    steps = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="events_definition_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ExecutionState(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for a callback"
    FAILED = "failed", "Stopped at a failed step"
    SUCCEEDED = "succeeded", "Succeeded"
    CANCELLED = "cancelled", "Cancelled"


class Execution(models.Model):
    definition = models.ForeignKey(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="executions"
    )
    event = models.ForeignKey(
        "events.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        max_length=20, choices=ExecutionState.choices, default=ExecutionState.RUNNING
    )
    context = models.JSONField(default=dict, help_text="The event's fields the chain starts with.")
    cancel_reason = models.CharField(max_length=300, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "-id"], name="events_execution_state_idx")]

    def __str__(self) -> str:
        return f"Execution {self.pk} of {self.definition}"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for a callback"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ExecutionStep(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=20, choices=StepState.choices, default=StepState.PENDING)
    input = models.JSONField(default=dict, blank=True)
    input_override = models.JSONField(null=True, blank=True, help_text="Edited before a resume.")
    output = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    callback_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    wait_deadline = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "position"], name="events_step_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}#{self.position} {self.name} ({self.state})"
