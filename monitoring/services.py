"""Alert state changes: evaluate every rule, open and resolve alerts, notify on each change,
acknowledge and silence. Checks (monitoring/checks.py) decide; these functions persist."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from integrations.models import ConnectionStatus, RequestLog
from monitoring.checks import Finding, rule_findings
from monitoring.models import (
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertState,
)
from monitoring.notifications import alert_channels_send

logger = logging.getLogger(__name__)
EVALUATOR = "system:alerts"


@dataclass
class Evaluation:
    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    open: list[Alert] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "opened": [alert_summary(alert=a) for a in self.opened],
            "resolved": [alert_summary(alert=a) for a in self.resolved],
            "open": [alert_summary(alert=a) for a in self.open],
        }


def alert_summary(*, alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "rule": alert.rule.name,
        "kind": alert.rule.kind,
        "severity": alert.severity,
        "subject": alert.subject,
        "summary": alert.summary,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged": alert.acknowledged_at is not None,
    }


def _alert_open(*, rule: AlertRule, finding: Finding, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                subject=finding.subject,
                severity=rule.severity,
                summary=finding.summary[:300],
                evidence=finding.evidence[:500],
                opened_at=now,
            )
            AlertEvent.objects.create(
                alert=alert, kind=AlertEventKind.OPENED, detail=finding.summary[:300]
            )
    except IntegrityError:  # another evaluator opened it a moment ago
        return None
    audit_event_record(
        action="alert.opened", actor_label=EVALUATOR, obj=alert, metadata={"rule": rule.name}
    )
    return alert


def _alert_resolve(*, alert: Alert, finding: Finding, now: datetime) -> bool:
    updated = Alert.objects.filter(pk=alert.pk, state=AlertState.OPEN).update(
        state=AlertState.RESOLVED, resolved_at=now
    )
    if not updated:
        return False
    alert.state, alert.resolved_at = AlertState.RESOLVED, now
    AlertEvent.objects.create(alert=alert, kind=AlertEventKind.RESOLVED, detail=finding.summary)
    audit_event_record(
        action="alert.resolved",
        actor_label=EVALUATOR,
        obj=alert,
        metadata={"rule": alert.rule.name},
    )
    return True


def rule_evaluate(*, rule: AlertRule, now: datetime, result: Evaluation) -> None:
    open_alerts = {a.subject: a for a in rule.alerts.filter(state=AlertState.OPEN)}
    for finding in rule_findings(rule, now=now):
        current = open_alerts.pop(finding.subject, None)
        if finding.firing and current is None:
            alert = _alert_open(rule=rule, finding=finding, now=now)
            if alert is not None:
                result.opened.append(alert)
        elif finding.firing and current is not None:
            if current.summary != finding.summary[:300]:
                Alert.objects.filter(pk=current.pk).update(summary=finding.summary[:300])
        elif current is not None and _alert_resolve(alert=current, finding=finding, now=now):
            result.resolved.append(current)
    # Subjects no longer in scope (workflow disabled or deleted, rule narrowed): resolved.
    for orphan in open_alerts.values():
        gone = Finding(orphan.subject, False, f"{orphan.subject} is no longer watched")
        if _alert_resolve(alert=orphan, finding=gone, now=now):
            result.resolved.append(orphan)


def connections_probe_idle(*, now: datetime) -> int:
    """An authentication failure shows only when something calls the API. A connection an
    auth_failure rule watches that answered no call for ALERT_AUTH_PROBE_SECONDS gets one
    "test connection" call, so a revoked token is seen within a minute or two even when no
    sync is running (one call a minute, far below any provider's daily limit)."""
    from integrations.connection_checks import connection_test
    from monitoring.checks import connections_watched

    after = settings.ALERT_AUTH_PROBE_SECONDS
    if not after:
        return 0
    probed = 0
    rules = AlertRule.objects.filter(enabled=True, kind=AlertKind.AUTH_FAILURE)
    connections = {c.pk: c for rule in rules for c in connections_watched(rule)}
    for connection in connections.values():
        if connection.status != ConnectionStatus.ACTIVE:
            continue  # paused or already known broken: a probe tells nothing new
        recent = RequestLog.objects.filter(
            connection=connection,
            status__isnull=False,
            created_at__gte=now - timedelta(seconds=after),
        ).exists()
        if not recent:
            connection_test(connection_id=connection.pk, actor_label=EVALUATOR)
            probed += 1
    return probed


def alerts_evaluate(*, now: datetime | None = None, transport: Any = None) -> Evaluation:
    """Evaluate every enabled rule, then send the notifications still owed (new opens,
    new resolutions, and any that failed before). A rule whose check raises is logged and
    skipped; it cannot stop the others."""
    now = now or timezone.now()
    result = Evaluation()
    try:
        connections_probe_idle(now=now)
    except Exception:
        logger.exception("idle connections could not be probed")
    for rule in AlertRule.objects.filter(enabled=True).select_related("workflow", "connection"):
        try:
            rule_evaluate(rule=rule, now=now, result=result)
        except Exception:
            logger.exception("alert rule %s could not be evaluated", rule.name)
    # A disabled rule's open alerts close: nobody watches them any more.
    for alert in Alert.objects.filter(state=AlertState.OPEN, rule__enabled=False):
        if _alert_resolve(
            alert=alert, finding=Finding(alert.subject, False, "rule disabled"), now=now
        ):
            result.resolved.append(alert)
    alerts_notify_pending(now=now, transport=transport)
    result.open = list(
        Alert.objects.filter(state=AlertState.OPEN).select_related("rule").order_by("-opened_at")
    )
    return result


def _notify(*, alert: Alert, resolved: bool, now: datetime, transport: Any) -> None:
    stamp = "resolve_notified_at" if resolved else "open_notified_at"
    rule = alert.rule
    if rule.silenced_until and rule.silenced_until > now:
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEventKind.NOT_NOTIFIED,
            detail=f"silenced until {rule.silenced_until:%Y-%m-%d %H:%M} UTC",
        )
    elif resolved and alert.open_notified_at is None:
        pass  # nobody heard it open (it never went out): no recovery message either
    else:
        try:
            sent = alert_channels_send(alert=alert, resolved=resolved, transport=transport)
        except Exception as exc:  # noqa: BLE001 - a failed notification must not stop evaluation
            # Class name only: provider errors may carry a URL, and webhook URLs are secrets.
            logger.warning("alert %s notification failed: %s", alert.pk, type(exc).__name__)
            AlertEvent.objects.create(
                alert=alert, kind=AlertEventKind.NOTIFY_FAILED, detail=type(exc).__name__
            )
            return
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEventKind.NOTIFIED,
            detail=("resolved: " if resolved else "opened: ") + (", ".join(sent) or "no channel"),
        )
    Alert.objects.filter(pk=alert.pk).update(**{stamp: now})
    setattr(alert, stamp, now)


def alerts_notify_pending(*, now: datetime, transport: Any = None) -> None:
    """Each alert is announced once when it opens and once when it resolves; a send that
    failed is tried again at the next evaluation."""
    pending_open = Alert.objects.filter(open_notified_at__isnull=True).select_related(
        "rule__slack_connection"
    )
    for alert in pending_open:
        _notify(alert=alert, resolved=False, now=now, transport=transport)
    pending_resolve = Alert.objects.filter(
        state=AlertState.RESOLVED, resolve_notified_at__isnull=True
    ).select_related("rule__slack_connection")
    for alert in pending_resolve:
        _notify(alert=alert, resolved=True, now=now, transport=transport)


def alert_acknowledge(*, alert: Alert, user: Any) -> Alert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        AlertEvent.objects.create(
            alert=alert, kind=AlertEventKind.ACKNOWLEDGED, actor_label=str(user)
        )
        audit_event_record(action="alert.acknowledged", actor=user, obj=alert)
    return alert


def alert_rule_silence(
    *, rule: AlertRule, until: datetime | None, reason: str, user: Any
) -> AlertRule:
    """Mute a rule's notifications until ``until`` (None lifts the silence)."""
    before = {"silenced_until": str(rule.silenced_until), "silence_reason": rule.silence_reason}
    rule.silenced_until, rule.silence_reason = until, reason[:200] if until else ""
    rule.save(update_fields=["silenced_until", "silence_reason", "updated_at"])
    audit_event_record(
        action="alert_rule.silenced" if until else "alert_rule.unsilenced",
        actor=user,
        obj=rule,
        changes={
            "before": before,
            "after": {"silenced_until": str(until), "silence_reason": rule.silence_reason},
        },
    )
    return rule
