"""The operations home: what the landing page shows, and its one action (acknowledge)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitoring.figures import quality_trends, quotas, workflow_statuses
from monitoring.models import Alert, AlertState, Severity
from monitoring.services import alert_acknowledge

RECENT_ALERTS = 20


def _alerts(user: Any) -> dict[str, Any]:
    open_alerts = list(
        Alert.objects.filter(state=AlertState.OPEN).select_related("rule").order_by("-opened_at")
    )
    by_severity = {
        severity: [a for a in open_alerts if a.severity == severity] for severity in Severity.values
    }
    recent = list(
        Alert.objects.filter(state=AlertState.RESOLVED)
        .select_related("rule")
        .order_by("-resolved_at")[:RECENT_ALERTS]
    )
    return {
        "open_alerts": open_alerts,
        "alerts_by_severity": by_severity,
        "recent_alerts": recent,
        "can_acknowledge": user.has_perm("monitoring.acknowledge_alert"),
    }


def home_context(*, request: HttpRequest) -> dict[str, Any]:
    user, now = request.user, timezone.now()
    context: dict[str, Any] = {"title": "Operations", "now": now}
    if user.has_perm("pipelines.view_run"):
        context["workflows"] = workflow_statuses(now=now)
        context["quality"] = quality_trends(now=now)
    if user.has_perm("monitoring.view_alert"):
        context.update(_alerts(user))
    if user.has_perm("integrations.view_requestlog"):
        context["quotas"] = quotas(now=now)
    context["links"] = {
        "runs": user.has_perm("pipelines.view_run"),
        "dead_letters": user.has_perm("pipelines.view_deadletter"),
        "import": user.has_perm("pipelines.import_csv"),
        "mappings": user.has_perm("pipelines.view_fieldmappingversion"),
        "rules": user.has_perm("monitoring.view_alertrule"),
        "quality_rules": user.has_perm("quality.view_qualityrule"),
        "qa": user.has_perm("quality.view_qasample"),
        "snapshots": user.has_perm("quality.view_portalsnapshot"),
        "schedules": user.has_perm("django_celery_beat.change_periodictask"),
    }
    return context


@require_POST
def alert_acknowledge_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    if not request.user.has_perm("monitoring.acknowledge_alert"):
        raise PermissionDenied("monitoring.acknowledge_alert required")
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        raise Http404("No such alert")
    alert_acknowledge(alert=alert, user=request.user)
    messages.success(request, f"Alert “{alert.summary}” acknowledged.")
    return redirect("admin:index")
