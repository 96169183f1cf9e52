"""/metrics: the workflow figures in Prometheus's text format, for an operator's scraper.

Every figure is computed from the database at scrape time by a custom collector on a fresh
registry per request, so web servers, workers and beat share one truth without
prometheus-client's multiprocess directory (docs/operations.md, "Prometheus"). Counters are
totals over the rows kept (a retention purge reads as a counter reset, which rate()
handles). Labels are bounded: workflow slug, portal (HubSpot's portal id; for other providers
and portals not yet learned, the connection's name), provider, status, error category — never
emails, record ids or people's names.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from integrations.models import Connection, Provider, RequestLog
from monitoring.figures import quotas
from monitoring.models import Alert, AlertState, Severity
from pipelines.models import DeadLetter, Run, RunStatus, Workflow
from pipelines.models.runs import FINISHED_STATUSES

# The client's default buckets stop at 10 s; runs take minutes.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
# The workflow label of dead letters that belong to no workflow: event-hub deliveries'.
EVENT_HUB = "event-hub"


def _runs(slugs: dict[int, str]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "switchyard_workflow_runs", "Finished runs by outcome.", labels=["workflow", "status"]
    )
    for row in (
        Run.objects.filter(status__in=FINISHED_STATUSES)
        .values("workflow_id", "status")
        .annotate(n=Count("id"))
    ):
        runs.add_metric([slugs[row["workflow_id"]], row["status"]], row["n"])
    yield runs
    records = CounterMetricFamily(
        "switchyard_records_processed",
        "Records of finished runs by outcome.",
        labels=["workflow", "outcome"],
    )
    totals = (
        Run.objects.filter(status__in=FINISHED_STATUSES)
        .values("workflow_id")
        .annotate(
            succeeded=Sum("succeeded"), dead_lettered=Sum("dead_lettered"), skipped=Sum("skipped")
        )
    )
    for row in totals:
        for outcome in ("succeeded", "dead_lettered", "skipped"):
            records.add_metric([slugs[row["workflow_id"]], outcome], row[outcome] or 0)
    yield records


def _durations(slugs: dict[int, str]) -> Iterator[Metric]:
    histogram = HistogramMetricFamily(
        "switchyard_workflow_run_duration_seconds",
        "Duration of finished runs.",
        labels=["workflow"],
    )
    aggregates = {
        f"le_{le}": Count("id", filter=Q(duration_ms__lte=le * 1000)) for le in DURATION_BUCKETS
    }
    rows = (
        Run.objects.filter(status__in=FINISHED_STATUSES, duration_ms__isnull=False)
        .values("workflow_id")
        .annotate(total=Count("id"), total_ms=Sum("duration_ms"), **aggregates)
    )
    for row in rows:
        buckets = [(str(float(le)), row[f"le_{le}"]) for le in DURATION_BUCKETS]
        buckets.append(("+Inf", row["total"]))
        histogram.add_metric(
            [slugs[row["workflow_id"]]], buckets, sum_value=(row["total_ms"] or 0) / 1000
        )
    yield histogram


def _workflow_gauges(slugs: dict[int, str]) -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "switchyard_workflow_last_success_timestamp_seconds",
        "When the workflow's last run that completed (success or partial) finished.",
        labels=["workflow"],
    )
    for row in (
        Run.objects.filter(status__in=(RunStatus.SUCCESS, RunStatus.PARTIAL))
        .values("workflow_id")
        .annotate(at=Max("finished_at"))
    ):
        if row["at"]:
            last.add_metric([slugs[row["workflow_id"]]], row["at"].timestamp())
    yield last
    dead = CounterMetricFamily(
        "switchyard_dead_letters",
        "Dead letters by error category (resolved ones included).",
        labels=["workflow", "category"],
    )
    open_dead = GaugeMetricFamily(
        "switchyard_dead_letters_open", "Dead letters waiting for review.", labels=["workflow"]
    )
    for row in DeadLetter.objects.values("workflow_id", "category").annotate(
        n=Count("id"), open=Count("id", filter=Q(resolution=""))
    ):
        dead.add_metric([slugs.get(row["workflow_id"], EVENT_HUB), row["category"][:60]], row["n"])
    for row in (
        DeadLetter.objects.filter(resolution="").values("workflow_id").annotate(n=Count("id"))
    ):
        open_dead.add_metric([slugs.get(row["workflow_id"], EVENT_HUB)], row["n"])
    yield dead
    yield open_dead


def _quality(slugs: dict[int, str]) -> Iterator[Metric]:
    from quality.selectors import run_quality_latest

    score = GaugeMetricFamily(
        "switchyard_data_quality_score_ratio",
        "Latest run's quality score (mean of completeness and consistency), 0-1.",
        labels=["workflow"],
    )
    for workflow_id, slug in slugs.items():
        latest = run_quality_latest(workflow_id=workflow_id)
        if latest is not None and latest.score is not None:
            score.add_metric([slug], round(latest.score / 100, 4))
    yield score


def _portal_labels() -> dict[int, tuple[str, str]]:
    """(provider, portal) per connection id: HubSpot's portal id once known (every connection
    to one portal spends one budget), else the connection's name."""
    return {
        pk: (provider, portal_id if provider == Provider.HUBSPOT and portal_id else name)
        for pk, provider, portal_id, name in Connection.objects.values_list(
            "pk", "provider", "portal_id", "name"
        )
    }


def _integrations() -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "switchyard_api_requests",
        "Outbound API calls by portal (HubSpot) or connection and HTTP status class.",
        labels=["provider", "portal", "status_class"],
    )
    labels = _portal_labels()
    counts: dict[tuple[str, str, str], int] = {}  # connections to one portal sum into one series
    for row in RequestLog.objects.values("connection_id", "status").annotate(n=Count("id")):
        status = row["status"]
        key = (*labels[row["connection_id"]], f"{status // 100}xx" if status else "no_answer")
        counts[key] = counts.get(key, 0) + row["n"]
    for key, n in counts.items():
        requests.add_metric(list(key), n)
    yield requests
    quota = GaugeMetricFamily(
        "switchyard_api_quota_used_ratio",
        "Share of the provider's rate limit in use (10-second window, or 1 when the daily "
        "budget is spent).",
        labels=["provider", "portal"],
    )
    daily = GaugeMetricFamily(
        "switchyard_api_daily_quota_used_ratio",
        "Share of the provider's daily budget in use, when its replies say.",
        labels=["provider", "portal"],
    )
    for reading in quotas(now=timezone.now()):
        if reading.used_percent is not None:
            quota.add_metric([reading.provider, reading.portal], reading.used_percent / 100)
        if reading.daily_used_percent is not None:
            daily.add_metric([reading.provider, reading.portal], reading.daily_used_percent / 100)
    yield quota
    yield daily
    alerts = GaugeMetricFamily(
        "switchyard_alerts_open", "Open alerts by severity.", labels=["severity"]
    )
    counts = dict(
        Alert.objects.filter(state=AlertState.OPEN)
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    for severity in Severity.values:  # pre-created at 0: no missing series
        alerts.add_metric([severity], counts.get(severity, 0))
    yield alerts


class SwitchyardCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        slugs = dict(Workflow.objects.values_list("pk", "slug"))
        yield from _runs(slugs)
        yield from _durations(slugs)
        yield from _workflow_gauges(slugs)
        yield from _quality(slugs)
        yield from _integrations()


def _authorized(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    offered = header[7:].strip().encode()
    # Every configured token is compared, in constant time, so timing says nothing.
    return any([hmac.compare_digest(offered, token.encode()) for token in settings.METRICS_TOKENS])


def metrics_view(request: HttpRequest) -> HttpResponse:
    """404 when no token is configured (the endpoint does not exist), 401 without the token."""
    if not settings.METRICS_TOKENS:
        raise Http404("metrics are not enabled")
    if not _authorized(request):
        response = HttpResponse(
            "a bearer token is required\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SwitchyardCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
