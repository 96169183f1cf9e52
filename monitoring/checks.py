"""What each alert kind looks at: one function per kind, reading runs, connections and the
request log, returning a Finding per subject in the rule's scope. Nothing here writes.

Every query goes through an index: runs by (workflow, -id), the request log by
(connection, -created_at); no check scans a table (docs/operations.md, "Alerts").
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from integrations.models import Connection, ConnectionStatus, Provider, RequestLog
from monitoring.models import AlertKind, AlertRule
from pipelines.models import Run, RunStatus, Workflow

FINISHED = (RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILURE)
COMPLETED = (RunStatus.SUCCESS, RunStatus.PARTIAL)
# A run the load-monitoring marks as stuck counts as stopped, if this branch knows the state.
STALLED = getattr(RunStatus, "STALLED", None)

DEFAULT_THRESHOLDS = {
    AlertKind.SUCCESS_RATE: 95.0,
    AlertKind.QUOTA_USED: 80.0,
    AlertKind.QUALITY_BELOW: 50.0,
}
DEFAULT_EXPECTED_MINUTES = 24 * 60
SLOW_FACTOR = 2.0  # "execution time > 2x normal"
SLOW_BASELINE_RUNS = 20  # normal = median of the last 20 finished runs
SLOW_MIN_BASELINE = 5  # fewer runs than this: no normal yet, not evaluated
TREND_RECENT_RUNS = 5
TREND_FACTOR = 2.0
TREND_FLOOR = 0.01  # an error rate under 1 % is not a trend worth a warning
QUOTA_FRESH = timedelta(minutes=2)  # a burst-window reading older than this says nothing now


@dataclass(frozen=True)
class Finding:
    subject: str
    firing: bool
    summary: str
    evidence: str = ""


def workflow_subject(workflow: Workflow) -> str:
    return f"workflow:{workflow.slug}"


def connection_subject(connection: Connection) -> str:
    return f"connection:{connection.name}"


def _workflows(rule: AlertRule) -> QuerySet[Workflow]:
    if rule.workflow_id:
        return Workflow.objects.filter(pk=rule.workflow_id)
    return Workflow.objects.filter(enabled=True)


def connections_watched(rule: AlertRule) -> QuerySet[Connection]:
    if rule.connection_id:
        return Connection.objects.filter(pk=rule.connection_id)
    return Connection.objects.filter(provider=Provider.HUBSPOT)


def _recent_finished(workflow: Workflow, limit: int) -> list[Run]:
    # (workflow, -id) index; finished runs only, newest first.
    return list(Run.objects.filter(workflow=workflow, status__in=FINISHED).order_by("-id")[:limit])


def _threshold(rule: AlertRule) -> float:
    if rule.threshold_percent is not None:
        return rule.threshold_percent
    return DEFAULT_THRESHOLDS.get(rule.kind, 0.0)


def check_workflow_failing(rule: AlertRule, workflow: Workflow, now) -> Finding:
    runs = _recent_finished(workflow, 50)
    failures = []
    for run in runs:
        if run.status != RunStatus.FAILURE:
            break
        failures.append(run)
    subject = workflow_subject(workflow)
    if not failures:
        return Finding(subject, False, f"{workflow.slug}: last run did not fail")
    since = failures[-1].finished_at or failures[-1].created_at
    firing = now - since >= timedelta(minutes=rule.failing_minutes)
    return Finding(
        subject,
        firing,
        f"{workflow.slug} has failed every run since {since:%Y-%m-%d %H:%M} UTC",
        f"{len(failures)} failed run(s) in a row; last: {failures[0].status_message or 'no message'}"[
            :500
        ],
    )


def check_sync_stopped(rule: AlertRule, workflow: Workflow, now) -> Finding:
    subject = workflow_subject(workflow)
    expected = timedelta(minutes=rule.expected_every_minutes or DEFAULT_EXPECTED_MINUTES)
    latest = Run.objects.filter(workflow=workflow).order_by("-id").first()
    if STALLED and latest is not None and latest.status == STALLED:
        return Finding(subject, True, f"{workflow.slug}: run {latest.pk} stalled", "")
    last_ok = Run.objects.filter(workflow=workflow, status__in=COMPLETED).order_by("-id").first()
    if last_ok is None:
        # Never succeeded: stopped only once it has existed longer than the interval.
        firing = now - workflow.created_at > expected
        return Finding(subject, firing, f"{workflow.slug} has never completed a run")
    when = last_ok.finished_at or last_ok.created_at
    firing = now - when > expected
    return Finding(
        subject,
        firing,
        f"{workflow.slug}: no successful run since {when:%Y-%m-%d %H:%M} UTC",
        f"expected one every {int(expected.total_seconds() // 60)} min; last was run {last_ok.pk}",
    )


def check_success_rate(rule: AlertRule, workflow: Workflow, now) -> Finding:
    subject = workflow_subject(workflow)
    runs = Run.objects.filter(
        workflow=workflow, status__in=FINISHED, finished_at__gte=now - timedelta(hours=24)
    )
    total = runs.count()
    if total == 0:
        return Finding(subject, False, f"{workflow.slug}: no runs in 24 h")
    completed = runs.filter(status__in=COMPLETED).count()
    rate = 100.0 * completed / total
    threshold = _threshold(rule)
    return Finding(
        subject,
        rate < threshold,
        f"{workflow.slug}: success rate {rate:.1f} % over 24 h (threshold {threshold:g} %)",
        f"{completed} of {total} runs completed",
    )


def check_slow_run(rule: AlertRule, workflow: Workflow, now) -> Finding:
    subject = workflow_subject(workflow)
    runs = [r for r in _recent_finished(workflow, SLOW_BASELINE_RUNS + 1) if r.duration_ms]
    if len(runs) < SLOW_MIN_BASELINE + 1:
        return Finding(subject, False, f"{workflow.slug}: too few runs for a normal duration")
    latest, baseline = runs[0], runs[1:]
    median = statistics.median(r.duration_ms for r in baseline)
    return Finding(
        subject,
        latest.duration_ms > SLOW_FACTOR * median,
        f"{workflow.slug}: run {latest.pk} took {latest.duration_ms / 1000:.1f} s, "
        f"normal is {median / 1000:.1f} s",
        f"median of the previous {len(baseline)} runs; limit {SLOW_FACTOR:g}x",
    )


def _error_rate(runs: list[Run]) -> float | None:
    records = sum(r.records_in for r in runs)
    return None if records == 0 else sum(r.dead_lettered for r in runs) / records


def check_error_rate_up(rule: AlertRule, workflow: Workflow, now) -> Finding:
    subject = workflow_subject(workflow)
    runs = _recent_finished(workflow, TREND_RECENT_RUNS + SLOW_BASELINE_RUNS)
    recent = _error_rate(runs[:TREND_RECENT_RUNS])
    before = _error_rate(runs[TREND_RECENT_RUNS:])
    if recent is None or before is None:
        return Finding(subject, False, f"{workflow.slug}: too few runs for a trend")
    firing = recent >= TREND_FLOOR and recent > TREND_FACTOR * before
    return Finding(
        subject,
        firing,
        f"{workflow.slug}: error rate {recent:.1%} over the last {TREND_RECENT_RUNS} runs, "
        f"was {before:.1%}",
        "dead-lettered records / records in",
    )


def check_quality_below(rule: AlertRule, workflow: Workflow, now) -> Finding:
    from quality.selectors import run_quality_latest

    subject = workflow_subject(workflow)
    latest = run_quality_latest(workflow_id=workflow.pk)
    if latest is None or latest.score is None:
        return Finding(subject, False, f"{workflow.slug}: quality not measured yet")
    threshold = _threshold(rule)
    return Finding(
        subject,
        latest.score < threshold,
        f"{workflow.slug}: data quality {latest.score:.1f} % (threshold {threshold:g} %)",
        f"run {latest.run_id}: completeness {latest.completeness:.1f} %, "
        f"consistency {latest.consistency:.1f} %",
    )


def check_auth_failure(rule: AlertRule, connection: Connection, now) -> Finding:
    subject = connection_subject(connection)
    if connection.status == ConnectionStatus.NEEDS_RECONNECT:
        return Finding(
            subject,
            True,
            f"{connection.name} needs reconnecting",
            (connection.status_message or "")[:500],
        )
    # The latest answered call decides: a 401 after a good call is failing, a good call
    # after a 401 (token restored) is healthy again.
    last = (
        RequestLog.objects.filter(connection=connection, status__isnull=False)
        .order_by("-created_at")
        .only("status", "created_at", "path_template")
        .first()
    )
    failing = last is not None and last.status == 401
    evidence = f"last call {last.path_template} → {last.status}" if last else "no calls yet"
    return Finding(
        subject,
        failing,
        f"{connection.name}: the API refuses its credentials (401)"
        if failing
        else f"{connection.name}: credentials accepted",
        evidence,
    )


def check_quota_used(rule: AlertRule, connection: Connection, now) -> Finding:
    from monitoring.figures import quota_for_connection

    subject = connection_subject(connection)
    quota = quota_for_connection(connection=connection, now=now)
    threshold = _threshold(rule)
    if quota.used_percent is None:
        return Finding(subject, False, f"{connection.name}: no recent quota reading")
    return Finding(
        subject,
        quota.used_percent > threshold,
        f"{connection.name}: {quota.used_percent:.0f} % of its {quota.window} API quota used",
        f"threshold {threshold:g} %",
    )


WORKFLOW_CHECKS = {
    AlertKind.WORKFLOW_FAILING: check_workflow_failing,
    AlertKind.SYNC_STOPPED: check_sync_stopped,
    AlertKind.SUCCESS_RATE: check_success_rate,
    AlertKind.SLOW_RUN: check_slow_run,
    AlertKind.ERROR_RATE_UP: check_error_rate_up,
    AlertKind.QUALITY_BELOW: check_quality_below,
}
CONNECTION_CHECKS = {
    AlertKind.AUTH_FAILURE: check_auth_failure,
    AlertKind.QUOTA_USED: check_quota_used,
}


def rule_findings(rule: AlertRule, *, now=None) -> list[Finding]:
    """Every subject in the rule's scope with its verdict."""
    now = now or timezone.now()
    if rule.kind in CONNECTION_CHECKS:
        check = CONNECTION_CHECKS[rule.kind]
        return [check(rule, connection, now) for connection in connections_watched(rule)]
    check = WORKFLOW_CHECKS[rule.kind]
    return [check(rule, workflow, now) for workflow in _workflows(rule)]
