"""Multi-step executions: run steps in order, store each step's input/output/status, stop at
a step whose retries are exhausted, resume from there (docs/events.md, "Chains").

Never redo a completed step: advancing always starts at the first step that has not
succeeded, and a succeeded step's output is reused by the steps after it. One worker at a
time advances an execution (a lease on the row); a worker killed mid-step leaves the lease
to expire and the sweeper advances the execution again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_event_record
from events.executions.steps import STEP_KINDS, step_run
from events.models import (
    Event,
    Execution,
    ExecutionState,
    ExecutionStep,
    StepState,
    Subscription,
    WorkflowDefinition,
)
from integrations.errors import ProviderError
from integrations.models import Connection
from pipelines.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
STEP_MAX_ATTEMPTS = 3
DEFAULT_WAIT_TIMEOUT_SECONDS = 3600
# A non-idempotent step (a Slack message) that may have been applied is not repeated.
NON_IDEMPOTENT = {"slack_message", "slack_reply"}


def callback_token(*, execution_id: int, position: int) -> str:
    """The opaque token sent to Clay with the row and expected back on its callback.
    Derived (HMAC of the execution and step), so resending the row sends the same token;
    only its SHA-256 is stored."""
    message = f"execution:{execution_id}:step:{position}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def definition_latest(*, name: str) -> WorkflowDefinition | None:
    return WorkflowDefinition.objects.filter(name=name).order_by("-version").first()


def execution_start(
    *, definition: WorkflowDefinition, context: dict[str, Any], event: Event | None = None
) -> Execution:
    with transaction.atomic():
        execution = Execution.objects.create(definition=definition, event=event, context=context)
        steps = []
        for position, step in enumerate(definition.steps):
            row = ExecutionStep(
                execution=execution, position=position, name=step["name"], kind=step["kind"]
            )
            if step["kind"] == "wait_callback":
                token = callback_token(execution_id=execution.pk, position=position)
                row.callback_token_hash = token_hash(token)
            steps.append(row)
        ExecutionStep.objects.bulk_create(steps)
        _advance_later(execution.pk)
    return execution


def executions_start_for_events(*, event_ids: list[int]) -> int:
    """Start the chains whose trigger subscription these events pass (once per event)."""
    from events.fanout import event_view, trigger_spec
    from events.triggers import trigger_filter_reason, trigger_matches

    names = set(
        WorkflowDefinition.objects.exclude(trigger_subscription="").values_list("name", flat=True)
    )
    started = 0
    for name in sorted(names):
        definition = definition_latest(name=name)
        subscription = Subscription.objects.filter(
            name=definition.trigger_subscription, enabled=True
        ).first()
        if subscription is None:
            continue
        spec = trigger_spec(subscription)
        for event in Event.objects.filter(pk__in=event_ids):
            view = event_view(event)
            if not trigger_matches(spec, view) or trigger_filter_reason(spec, view):
                continue
            if Execution.objects.filter(definition__name=name, event=event).exists():
                continue
            execution_start(definition=definition, context=dict(event.fields or {}), event=event)
            started += 1
    return started


def _claim(execution_id: int, now: datetime) -> bool:
    return bool(
        Execution.objects.filter(pk=execution_id, state=ExecutionState.RUNNING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_expires_at=now + LEASE)
    )


def execution_advance(*, execution_id: int) -> str:
    """Run steps until the chain waits, fails, finishes or must retry later."""
    if not _claim(execution_id, timezone.now()):
        return "busy-or-not-running"
    try:
        while True:
            execution = Execution.objects.select_related("definition").get(pk=execution_id)
            if execution.state != ExecutionState.RUNNING:
                return execution.state
            step = execution.steps.exclude(state=StepState.SUCCEEDED).order_by("position").first()
            if step is None:
                _execution_finish(execution)
                return ExecutionState.SUCCEEDED
            verdict = _step_advance(execution, step)
            if verdict != "next":
                return verdict
            Execution.objects.filter(pk=execution_id).update(
                lease_expires_at=timezone.now() + LEASE
            )
    finally:
        Execution.objects.filter(pk=execution_id).update(lease_expires_at=None)


def _step_advance(execution: Execution, step: ExecutionStep) -> str:
    spec = execution.definition.steps[step.position]
    now = timezone.now()
    if step.kind == "wait_callback":
        if step.output:  # the callback already came
            _step_succeed(step, step.output)
            return "next"
        timeout = int(spec.get("timeout_seconds") or DEFAULT_WAIT_TIMEOUT_SECONDS)
        ExecutionStep.objects.filter(pk=step.pk).update(
            state=StepState.WAITING, started_at=now, wait_deadline=now + timedelta(seconds=timeout)
        )
        Execution.objects.filter(pk=execution.pk, state=ExecutionState.RUNNING).update(
            state=ExecutionState.WAITING
        )
        return ExecutionState.WAITING
    if step.state == StepState.RUNNING and step.kind in NON_IDEMPOTENT:
        # The worker stopped during this step: the message may or may not be posted.
        return _step_fail(execution, step, "stopped while sending; check Slack, then resume")
    context = _context(execution)
    step_input = step.input_override or _render_input(spec, context)
    ExecutionStep.objects.filter(pk=step.pk).update(
        state=StepState.RUNNING, input=step_input, attempts=step.attempts + 1, started_at=now
    )
    try:
        output = step_run(
            kind=step.kind,
            spec=spec,
            step_input=step_input,
            context=context,
            key=f"exe_{execution.pk}_{step.position}",
        )
    except (ValueError, KeyError, Connection.DoesNotExist) as problem:
        return _step_fail(execution, step, f"cannot run this step: {problem}")
    except ProviderError as error:
        step.attempts += 1
        maybe_applied = step.kind in NON_IDEMPOTENT and error.context.get("maybe_applied")
        if error.permanent or maybe_applied or step.attempts >= STEP_MAX_ATTEMPTS:
            return _step_fail(execution, step, str(error))
        ExecutionStep.objects.filter(pk=step.pk).update(
            state=StepState.PENDING, error=str(error)[:300]
        )
        _advance_later(execution.pk, countdown=2**step.attempts)
        return "retry-later"
    _step_succeed(step, output)
    return "next"


def _render_input(spec: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    from events.triggers import template_render

    rendered: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("name", "kind", "connection", "timeout_seconds", "thread_of"):
            continue
        if isinstance(value, str):
            rendered[key] = template_render(value, context)
        elif isinstance(value, dict):
            rendered[key] = {k: template_render(str(v), context) for k, v in value.items()}
        else:
            rendered[key] = value
    return rendered


def _context(execution: Execution) -> dict[str, Any]:
    """The event's fields, plus every succeeded step's output as ``{step.key}``, plus the
    callback address of each wait step as ``{step.callback_url}``."""
    context = dict(execution.context or {})
    base = settings.PUBLIC_BASE_URL
    for step in execution.steps.all():
        if step.state == StepState.SUCCEEDED:
            for key, value in (step.output or {}).items():
                context[f"{step.name}.{key}"] = value
        if step.kind == "wait_callback":
            token = callback_token(execution_id=execution.pk, position=step.position)
            context[f"{step.name}.callback_url"] = f"{base}/hooks/events/callback/{token}/"
            context[f"{step.name}.token"] = token
    context["execution_id"] = execution.pk
    return context


def _step_succeed(step: ExecutionStep, output: dict[str, Any]) -> None:
    ExecutionStep.objects.filter(pk=step.pk).update(
        state=StepState.SUCCEEDED, output=output or {}, error="", finished_at=timezone.now()
    )


def _step_fail(execution: Execution, step: ExecutionStep, error: str) -> str:
    now = timezone.now()
    ExecutionStep.objects.filter(pk=step.pk).update(
        state=StepState.FAILED, error=error[:300], finished_at=now
    )
    Execution.objects.filter(pk=execution.pk).update(state=ExecutionState.FAILED)
    audit_event_record(
        action="execution.failed",
        actor_label="system:events",
        obj=execution,
        metadata={"step": step.name, "error": error[:300]},
    )
    return ExecutionState.FAILED


def _execution_finish(execution: Execution) -> None:
    Execution.objects.filter(pk=execution.pk).update(
        state=ExecutionState.SUCCEEDED, finished_at=timezone.now()
    )


def _advance_later(execution_id: int, countdown: float = 0) -> None:
    from events.wakeups import EXECUTION_ADVANCE

    enqueue_on_commit(EXECUTION_ADVANCE, execution_id, countdown=countdown)


class ExecutionRefused(ValueError):
    """The action does not apply to the execution in its current state; says why."""


def execution_resume(
    *, execution_id: int, actor: Any, input_override: dict[str, Any] | None = None
) -> Execution:
    """Resume a stopped execution at its failed step; completed steps are not run again."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.state != ExecutionState.FAILED:
            raise ExecutionRefused(f"execution {execution_id} is {execution.state}, not failed")
        step = execution.steps.filter(state=StepState.FAILED).order_by("position").first()
        if step is not None:
            step.state = StepState.PENDING
            step.attempts = 0
            step.error = ""
            if step.kind == "wait_callback":
                step.output = {}
            if input_override is not None:
                step.input_override = input_override
            step.save()
        execution.state = ExecutionState.RUNNING
        execution.lease_expires_at = None
        execution.save(update_fields=["state", "lease_expires_at", "updated_at"])
        audit_event_record(
            action="execution.resumed",
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label="" if getattr(actor, "pk", None) else str(actor),
            obj=execution,
            metadata={
                "from_step": step.name if step else None,
                "input_edited": input_override is not None,
            },
        )
        _advance_later(execution.pk)
    return execution


def execution_cancel(*, execution_id: int, reason: str, actor: Any) -> Execution:
    if not reason.strip():
        raise ExecutionRefused("say why this execution is cancelled")
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.state in (ExecutionState.SUCCEEDED, ExecutionState.CANCELLED):
            raise ExecutionRefused(f"execution {execution_id} is already {execution.state}")
        execution.state = ExecutionState.CANCELLED
        execution.cancel_reason = reason.strip()[:300]
        execution.finished_at = timezone.now()
        execution.save()
        audit_event_record(
            action="execution.cancelled",
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label="" if getattr(actor, "pk", None) else str(actor),
            obj=execution,
            metadata={"reason": execution.cancel_reason},
        )
    return execution


class CallbackRefused(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def callback_receive(*, token: str, output: dict[str, Any]) -> Execution:
    """Clay's findings for a waiting step. Unknown token 404; a late or repeated callback
    409 (step done) or 410 (execution cancelled or timed out)."""
    if not token or len(token) > 128:
        raise CallbackRefused(404, "unknown callback token")
    with transaction.atomic():
        step = (
            ExecutionStep.objects.select_for_update()
            .select_related("execution")
            .filter(callback_token_hash=token_hash(token))
            .first()
        )
        if step is None:
            raise CallbackRefused(404, "unknown callback token")
        execution = step.execution
        if execution.state == ExecutionState.CANCELLED:
            raise CallbackRefused(410, "this execution was cancelled")
        if step.state == StepState.SUCCEEDED or step.output:
            raise CallbackRefused(409, "this callback was already received")
        if step.state == StepState.FAILED:
            raise CallbackRefused(410, "this step timed out; resume the execution to wait again")
        step.output = output
        step.save(update_fields=["output"])
        if execution.state == ExecutionState.WAITING:
            Execution.objects.filter(pk=execution.pk).update(state=ExecutionState.RUNNING)
            _advance_later(execution.pk)
    return execution


def executions_sweep(*, now: datetime) -> int:
    """Time out waits past their deadline; re-advance executions whose worker died."""
    expired = list(
        ExecutionStep.objects.filter(
            state=StepState.WAITING, wait_deadline__lt=now, execution__state=ExecutionState.WAITING
        ).select_related("execution")
    )
    for step in expired:
        _step_fail(step.execution, step, "timed out waiting for the callback")
    orphans = Execution.objects.filter(state=ExecutionState.RUNNING).filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, updated_at__lt=now - LEASE)
    )
    for execution_id in orphans.values_list("pk", flat=True)[:200]:
        _advance_later(execution_id)
    return len(expired)


__all__ = ["STEP_KINDS"]
