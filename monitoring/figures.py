"""Workflow and integration figures computed from runs, batches and the request log.

Read-only. Shared by the operations home, the alert checks and /metrics so each number has
one definition (docs/quality.md and docs/operations.md give the formulas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, Sum
from django_celery_beat.models import PeriodicTask

from integrations.models import AuthType, Connection, ConnectionStatus, Provider, RequestLog
from pipelines.models import DeadLetter, Run, RunStatus, Workflow
from pipelines.models.runs import FINISHED_STATUSES

COMPLETED_STATUSES = (RunStatus.SUCCESS, RunStatus.PARTIAL)
# Providers whose replies carry rate-limit headers the request log keeps.
QUOTA_PROVIDERS = (Provider.HUBSPOT, Provider.APOLLO, Provider.SLACK)


@dataclass(frozen=True)
class Quota:
    """One budget: a HubSpot portal (every connection to it spends the same calls) or one
    connection of another provider. ``window`` names the figure ``used_percent`` gives."""

    connection: str  # the row's label: "portal <id> (names)" or the connection's name
    provider: str
    window: str  # "10-second" or "daily"
    used_percent: float | None
    remaining: int | None
    limit: int | None
    read_at: datetime | None
    portal: str = ""  # the metrics label: the portal id for HubSpot, else the connection name
    daily_used_percent: float | None = None
    daily_known: bool = True  # False: the provider sends these connections no daily figure


QUOTA_FRESH = timedelta(minutes=2)


def _portal_label(connections: list[Connection]) -> tuple[str, str]:
    first = connections[0]
    if first.provider == Provider.HUBSPOT and first.portal_id:
        names = ", ".join(c.name for c in connections)
        return f"portal {first.portal_id} ({names})", first.portal_id
    return first.name, first.name


def _start_of_day(connection: Connection, now: datetime) -> datetime:
    """HubSpot's daily limit resets at midnight in the portal's time zone; others at UTC's."""
    try:
        zone = ZoneInfo(connection.portal_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def _daily_used(connections: list[Connection], now: datetime) -> float | None:
    last = (
        RequestLog.objects.filter(
            connection__in=connections,
            created_at__gte=_start_of_day(connections[0], now),
            daily_max__gt=0,
            daily_remaining__isnull=False,
        )
        .order_by("-created_at", "-id")
        .only("daily_max", "daily_remaining")
        .first()
    )
    if last is None:
        return None
    return round(100.0 * max(0, last.daily_max - last.daily_remaining) / last.daily_max, 1)


def quota_for_connections(*, connections: list[Connection], now: datetime) -> Quota:
    """Share of one budget in use. A connection paused for its daily quota puts the budget at
    100 % of its daily limit; otherwise the newest rate-limit headers any of the connections
    logged in the last two minutes give the 10-second window's use, (max - remaining) / max,
    and the newest daily headers logged since the day's reset give the daily use."""
    label, portal = _portal_label(connections)
    provider = connections[0].provider
    # HubSpot sends OAuth calls no daily headers, Slack has no daily limit at all: then the
    # daily figure is unknown rather than 0 %.
    daily_known = provider == Provider.APOLLO or (
        provider == Provider.HUBSPOT and any(c.auth_type != AuthType.OAUTH for c in connections)
    )
    if any(c.status == ConnectionStatus.WAITING_FOR_QUOTA for c in connections):
        return Quota(label, provider, "daily", 100.0, 0, None, now, portal, 100.0, True)
    daily = _daily_used(connections, now)
    last = (
        RequestLog.objects.filter(
            connection__in=connections,
            created_at__gte=now - QUOTA_FRESH,
            rate_limit_max__isnull=False,
            rate_limit_remaining__isnull=False,
        )
        .order_by("-created_at", "-id")
        .only("rate_limit_max", "rate_limit_remaining", "created_at")
        .first()
    )
    if last is None or not last.rate_limit_max:
        return Quota(
            label, provider, "10-second", None, None, None, None, portal, daily, daily_known
        )
    used = max(0, last.rate_limit_max - last.rate_limit_remaining)
    return Quota(
        label,
        provider,
        "10-second",
        round(100.0 * used / last.rate_limit_max, 1),
        last.rate_limit_remaining,
        last.rate_limit_max,
        last.created_at,
        portal,
        daily,
        daily_known,
    )


def sharing_budget(connection: Connection) -> list[Connection]:
    """The connections spending the same budget: all connections to one HubSpot portal
    (integrations.registry.limiter_key_for keys the shared limiter the same way)."""
    if connection.provider == Provider.HUBSPOT and connection.portal_id:
        return list(
            Connection.objects.filter(
                provider=Provider.HUBSPOT, portal_id=connection.portal_id
            ).order_by("name")
        )
    return [connection]


def quota_for_connection(*, connection: Connection, now: datetime) -> Quota:
    """The budget ``connection`` spends, shared with the other connections to its portal."""
    return quota_for_connections(connections=sharing_budget(connection), now=now)


# --- workflows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowStatus:
    workflow: Workflow
    last_run: Run | None
    success_24h: float | None  # percent of finished runs that completed (success or partial)
    runs_24h: int
    success_7d: float | None
    runs_7d: int
    records_today: int
    open_dead_letters: int
    next_run_at: datetime | None
    schedule: str  # "every 60 min", "webhook / CSV"
    health: str  # ok | warn | bad | idle


def success_rate(*, workflow_id: int, since: datetime) -> tuple[float | None, int]:
    """Percent of the runs finished since ``since`` that completed (success or partial)."""
    runs = Run.objects.filter(
        workflow_id=workflow_id, status__in=FINISHED_STATUSES, finished_at__gte=since
    )
    counts = runs.aggregate(
        total=Count("id"), completed=Count("id", filter=Q(status__in=COMPLETED_STATUSES))
    )
    if not counts["total"]:
        return None, 0
    return round(100.0 * counts["completed"] / counts["total"], 1), counts["total"]


def _schedules_by_workflow() -> dict[str, PeriodicTask]:
    """Enabled beat entries that name a workflow in their kwargs ({"workflow": slug})."""
    found: dict[str, PeriodicTask] = {}
    for task in PeriodicTask.objects.filter(enabled=True).select_related(
        "interval", "crontab", "clocked"
    ):
        try:
            kwargs = json.loads(task.kwargs or "{}")
        except ValueError:
            continue
        slug = kwargs.get("workflow") if isinstance(kwargs, dict) else None
        if slug:
            found[str(slug)] = task
    return found


def _next_run(task: PeriodicTask, now: datetime) -> datetime | None:
    try:
        remaining = task.schedule.remaining_estimate(task.last_run_at or now)
    except Exception:  # noqa: BLE001 - a clocked or solar schedule without an estimate
        return None
    return max(now, (task.last_run_at or now) + remaining) if remaining is not None else None


def _health(last: Run | None, success_24h: float | None) -> str:
    if last is None:
        return "idle"
    if last.status == RunStatus.FAILURE:
        return "bad"
    if last.status == RunStatus.PARTIAL or (success_24h is not None and success_24h < 95):
        return "warn"
    return "ok"


def workflow_statuses(*, now: datetime) -> list[WorkflowStatus]:
    """One line per workflow for the operations home: a handful of indexed queries each."""
    schedules = _schedules_by_workflow()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    statuses = []
    for workflow in Workflow.objects.order_by("slug"):
        last = Run.objects.filter(workflow=workflow).order_by("-id").first()
        day, runs_day = success_rate(workflow_id=workflow.pk, since=now - timedelta(hours=24))
        week, runs_week = success_rate(workflow_id=workflow.pk, since=now - timedelta(days=7))
        records = (
            Run.objects.filter(workflow=workflow, created_at__gte=start_of_day).aggregate(
                n=Sum("records_in")
            )["n"]
            or 0
        )
        dead = DeadLetter.objects.filter(workflow=workflow, resolution="").count()
        task = schedules.get(workflow.slug)
        statuses.append(
            WorkflowStatus(
                workflow=workflow,
                last_run=last,
                success_24h=day,
                runs_24h=runs_day,
                success_7d=week,
                runs_7d=runs_week,
                records_today=records,
                open_dead_letters=dead,
                next_run_at=_next_run(task, now) if task else None,
                schedule=str(task.schedule) if task else "on webhook / CSV import",
                health=_health(last, day),
            )
        )
    return statuses


def quotas(*, now: datetime) -> list[Quota]:
    """API quota use per budget: one row per HubSpot portal (every connection to it
    together), one per connection of another provider or to a portal not yet learned."""
    groups: dict[tuple[str, str], list[Connection]] = {}
    for connection in Connection.objects.filter(provider__in=QUOTA_PROVIDERS).order_by("name"):
        key = (
            ("portal", connection.portal_id)
            if connection.provider == Provider.HUBSPOT and connection.portal_id
            else ("connection", str(connection.pk))
        )
        groups.setdefault(key, []).append(connection)
    rows = [quota_for_connections(connections=group, now=now) for group in groups.values()]
    return sorted(rows, key=lambda quota: quota.connection)


# --- quality trend ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityTrend:
    workflow: Workflow
    latest: float | None
    points: list[tuple[date, float]]  # daily mean score, oldest first
    polyline: str  # SVG points, 0-100 scaled into a 120x30 box

    @property
    def last_xy(self) -> tuple[str, str] | None:
        if not self.polyline:
            return None
        x, y = self.polyline.split()[-1].split(",")
        return x, y


SPARK_W, SPARK_H = 120, 30


def _polyline(points: list[tuple[date, float]], since: date, days: int) -> str:
    coords = []
    for day, value in points:
        x = SPARK_W * (day - since).days / max(1, days - 1)
        y = SPARK_H - SPARK_H * max(0.0, min(100.0, value)) / 100
        coords.append(f"{x:.1f},{y:.1f}")
    return " ".join(coords)


def quality_trends(*, now: datetime, days: int = 30) -> list[QualityTrend]:
    from quality.models import RunQuality

    since = (now - timedelta(days=days - 1)).date()
    trends = []
    for workflow in Workflow.objects.order_by("slug"):
        daily: dict[date, list[float]] = {}
        rows = RunQuality.objects.filter(workflow=workflow, measured_at__date__gte=since).order_by(
            "measured_at"
        )
        latest = None
        for quality in rows:
            if quality.score is not None:
                daily.setdefault(quality.measured_at.date(), []).append(quality.score)
                latest = quality.score
        points = [(day, sum(v) / len(v)) for day, v in sorted(daily.items())]
        trends.append(QualityTrend(workflow, latest, points, _polyline(points, since, days)))
    return trends


# --- one workflow's figures ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowFigures:
    success_rate_7d: float | None
    runs_7d: int
    duration_avg_s: float | None
    duration_p95_s: float | None
    errors_per_1000: list[tuple[str, float]]  # (dead-letter category, per 1,000 records), 7 d
    records_day: int
    records_week: int
    records_month: int


def _p95(values: list[int]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, -(-95 * len(ordered) // 100) - 1)])


def workflow_figures(*, workflow: Workflow, now: datetime) -> WorkflowFigures:
    rate, runs = success_rate(workflow_id=workflow.pk, since=now - timedelta(days=7))
    durations = list(
        Run.objects.filter(
            workflow=workflow, status__in=FINISHED_STATUSES, duration_ms__isnull=False
        )
        .order_by("-id")
        .values_list("duration_ms", flat=True)[:100]
    )

    def volume(days: int) -> int:
        since = now - timedelta(days=days)
        total = Run.objects.filter(workflow=workflow, created_at__gte=since).aggregate(
            n=Sum("records_in")
        )["n"]
        return total or 0

    week = volume(7)
    by_category = (
        DeadLetter.objects.filter(workflow=workflow, created_at__gte=now - timedelta(days=7))
        .values("category")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    errors = [(row["category"], round(1000.0 * row["n"] / week, 1)) for row in by_category if week]
    return WorkflowFigures(
        success_rate_7d=rate,
        runs_7d=runs,
        duration_avg_s=round(sum(durations) / len(durations) / 1000, 1) if durations else None,
        duration_p95_s=round(_p95(durations) / 1000, 1) if durations else None,
        errors_per_1000=errors,
        records_day=volume(1),
        records_week=week,
        records_month=volume(30),
    )
