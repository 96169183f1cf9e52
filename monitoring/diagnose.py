""" "Why isn't this syncing?": the troubleshooting guide's checks, each with a verdict, the
evidence it saw and the fix. Read-only except the credential check, which is a real "test
connection" (one cheap call, recorded like any other)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from integrations.models import AuthType, Connection, ConnectionStatus
from monitoring.figures import _schedules_by_workflow, quota_for_connection
from pipelines.models import (
    BatchState,
    DeadLetter,
    InboundEvent,
    RecordState,
    Run,
    RunBatch,
    RunRecord,
    SkipReason,
    Workflow,
)

WINDOW = timedelta(days=7)
QUIET_AFTER = timedelta(hours=24)  # no trigger for a day: say so
DEAD_LETTER_RATE_LIMIT = 0.05  # more than 5 % of a week's records dead-lettered
DEDUPE_RATE_LIMIT = 0.20  # more than 1 in 5 records merged into another of the same run
QUEUE_AGE_LIMIT = timedelta(minutes=5)
BEAT_SILENT_AFTER = timedelta(minutes=5)  # the sweeper ticks every 30 s


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    evidence: str
    fix: str = ""


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // 1440} days ago"


def check_trigger(workflow: Workflow, now: datetime) -> Check:
    name = "Is the trigger firing?"
    if not workflow.enabled:
        return Check(name, False, "the workflow is disabled", "Enable the workflow.")
    event = InboundEvent.objects.filter(workflow=workflow).order_by("-received_at").first()
    last_run = Run.objects.filter(workflow=workflow).order_by("-id").first()
    schedule = _schedules_by_workflow().get(workflow.slug)
    beat = PeriodicTask.objects.filter(enabled=True).exclude(last_run_at=None)
    last_tick = beat.order_by("-last_run_at").values_list("last_run_at", flat=True).first()
    parts = [
        f"last webhook {_ago(event.received_at if event else None, now)}",
        f"last run {_ago(last_run.created_at if last_run else None, now)}",
        f"schedule: {schedule.schedule if schedule else 'none'}",
        f"last beat tick {_ago(last_tick, now)}",
    ]
    latest = max(
        [m for m in (event and event.received_at, last_run and last_run.created_at) if m],
        default=None,
    )
    if schedule and (last_tick is None or now - last_tick > BEAT_SILENT_AFTER):
        return Check(
            name, False, "; ".join(parts), "Start Celery beat: the schedule is not ticking."
        )
    if latest is None or now - latest > QUIET_AFTER:
        return Check(
            name,
            False,
            "; ".join(parts),
            "Nothing arrived for a day: check the Clay table's HTTP action points at this "
            "workflow's webhook URL with its secret, or import a CSV.",
        )
    return Check(name, True, "; ".join(parts))


def _token_evidence(connection: Connection, now: datetime) -> list[str]:
    notes = []
    if connection.status == ConnectionStatus.NEEDS_RECONNECT:
        notes.append(f"marked “needs reconnect”: {connection.status_message or 'no reason kept'}")
    if connection.auth_type == AuthType.OAUTH and connection.access_token_expires_at:
        expires = connection.access_token_expires_at
        if expires <= now:
            notes.append(f"the OAuth access token expired {_ago(expires, now)}")
        if not connection.refresh_token:
            notes.append("no refresh token is stored")
    if connection.credentials_are_stale:
        notes.append("the credential is older than 90 days (rotate it)")
    return notes


def check_credentials(workflow: Workflow, now: datetime) -> Check:
    from integrations.connection_checks import connection_test

    name = "Are the credentials valid and the scopes sufficient?"
    connection = workflow.destination_connection
    verdict = connection_test(connection_id=connection.pk, actor_label="diagnose")
    connection.refresh_from_db()
    notes = _token_evidence(connection, now)
    evidence = f"{connection.name}: test connection → {verdict.message}"
    if notes:
        evidence += "; " + "; ".join(notes)
    if verdict.ok:
        return Check(name, True, evidence)
    if verdict.code == "missing_scope":
        fix = "Grant the missing scope to the private app (or reconnect OAuth with it)."
    elif any("expired" in n for n in notes):
        fix = f"The token expired: reconnect {connection.name} (OAuth) or paste a new token."
    elif verdict.code == "invalid_token":
        fix = f"The token is expired or revoked: paste a new private-app token into {connection.name}."
    else:
        fix = "Check the connection's base URL and that the provider is reachable."
    return Check(name, False, evidence, fix)


def check_quota(workflow: Workflow, now: datetime) -> Check:
    name = "Is the portal's quota exhausted or the connection paused?"
    connection = workflow.destination_connection
    quota = quota_for_connection(connection=connection, now=now)
    used = "no recent reading" if quota.used_percent is None else f"{quota.used_percent:.0f} %"
    evidence = f"{connection.name}: status {connection.status}; {quota.window} quota used {used}"
    if connection.status == ConnectionStatus.WAITING_FOR_QUOTA:
        until = connection.paused_until
        return Check(
            name,
            False,
            evidence + f"; paused until {until:%Y-%m-%d %H:%M} UTC" if until else evidence,
            "The daily API limit is spent; runs resume by themselves after the reset. "
            "Lower other apps' use of the portal or raise the limit.",
        )
    if connection.status == ConnectionStatus.DISABLED:
        return Check(name, False, evidence, f"Re-enable the connection {connection.name}.")
    if quota.used_percent is not None and quota.used_percent >= 95:
        return Check(name, False, evidence, "Other jobs use the whole burst limit; spread them.")
    return Check(name, True, evidence)


def check_mapping(workflow: Workflow, now: datetime) -> Check:
    from pipelines.selectors import field_mapping_current
    from pipelines.services.mappings import field_mapping_validate

    name = "Is the mapping valid against HubSpot's current properties?"
    current = field_mapping_current(workflow=workflow)
    if current is None:
        return Check(name, False, "the workflow has no mapping", "Create its field mapping.")
    problems = field_mapping_validate(workflow=workflow, rules=current.rules)
    if problems:
        return Check(
            name,
            False,
            f"mapping v{current.version}: " + " ".join(problems),
            "Edit the mapping: point each rule at an existing, writable property.",
        )
    return Check(name, True, f"mapping v{current.version}: {len(current.rules)} rules valid")


def check_validation(workflow: Workflow, now: datetime) -> Check:
    name = "Are records failing validation?"
    since = now - WINDOW
    records = sum(
        Run.objects.filter(workflow=workflow, created_at__gte=since).values_list(
            "records_in", flat=True
        )
    )
    letters = DeadLetter.objects.filter(workflow=workflow, created_at__gte=since)
    count = letters.count()
    top = Counter()
    for errors in letters.values_list("errors", flat=True)[:2000]:
        for error in errors or []:
            # "Email → email: not a valid email address" → the part people act on
            top[str(error).split(": ", 1)[-1][:120]] += 1
    top_text = "; ".join(f"{n}× {message}" for message, n in top.most_common(3)) or "none"
    evidence = f"{count} dead letters of {records} records in 7 days; top errors: {top_text}"
    if records and count / records > DEAD_LETTER_RATE_LIMIT:
        return Check(
            name,
            False,
            evidence,
            "Fix the source data or the mapping, then reprocess from the dead-letter queue.",
        )
    return Check(name, True, evidence)


def check_dedupe(workflow: Workflow, now: datetime) -> Check:
    name = "Is dedupe merging more than expected?"
    runs = list(
        Run.objects.filter(workflow=workflow, created_at__gte=now - WINDOW).values_list(
            "pk", "records_in"
        )
    )
    records = sum(n for _, n in runs)
    merged = RunRecord.objects.filter(
        run_id__in=[pk for pk, _ in runs],
        state=RecordState.SKIPPED,
        skip_reason=SkipReason.DUPLICATE,
    ).count()
    evidence = f"{merged} of {records} records merged into a duplicate in the same run (7 days)"
    if records and merged / records > DEDUPE_RATE_LIMIT:
        return Check(
            name,
            False,
            evidence,
            f"Many records share a {workflow.match_on}: check the source is not sending the "
            "same rows twice, or that the match key is mapped from the right column.",
        )
    return Check(name, True, evidence)


def celery_workers_ping(timeout: float = 1.0) -> list[str]:
    from config.celery import app

    replies = app.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


# Replaced in tests; the embedded (filesystem) broker of the demo cannot broadcast, so an
# empty answer there is not proof of absence: the last finished batch is the other witness.
WORKERS_PING: Callable[[], list[str]] = celery_workers_ping


def check_workers(workflow: Workflow, now: datetime) -> Check:
    name = "Are workers alive and is the queue backing up?"
    try:
        workers, broker = WORKERS_PING(), "broker reachable"
    except Exception as exc:  # noqa: BLE001 - broker down, whatever the client raises: that is the answer
        workers, broker = [], f"broker unreachable ({type(exc).__name__})"
    waiting = RunBatch.objects.filter(state=BatchState.PENDING, run__workflow=workflow)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    last_done = (
        RunBatch.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    evidence = (
        f"{broker}; {len(workers)} worker(s) answered a ping; last batch finished "
        f"{_ago(last_done, now)}; {waiting.count()} batch(es) queued, oldest {_ago(oldest, now)}"
    )
    stuck = oldest is not None and now - oldest > QUEUE_AGE_LIMIT
    if stuck and not workers:
        return Check(name, False, evidence, "Start a Celery worker (scripts/demo.sh starts one).")
    if stuck:
        return Check(name, False, evidence, "The queue is backing up: add workers or concurrency.")
    return Check(name, True, evidence)


CHECKS = [
    check_trigger,
    check_credentials,
    check_quota,
    check_mapping,
    check_validation,
    check_dedupe,
    check_workers,
]


def workflow_diagnose(*, workflow: Workflow, now: datetime | None = None) -> dict[str, Any]:
    """{"workflow", "checks": [{"name", "ok", "evidence", "fix"}]}; a check that crashes is
    reported as failed with the error's type, never hides the others."""
    now = now or timezone.now()
    checks = []
    for check in CHECKS:
        try:
            result = check(workflow, now)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            result = Check(check.__name__, False, f"the check failed: {type(exc).__name__}")
        checks.append(asdict(result))
    return {"workflow": workflow.slug, "checks": checks}
