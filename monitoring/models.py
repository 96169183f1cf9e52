"""Alert rules, the alerts they open and close, and each alert's history.

One alert per (rule, subject) is open at a time (a partial unique constraint), so evaluating
every minute reopens nothing and notifies nothing while a problem lasts: a notification is
sent when an alert opens and when it resolves (docs/operations.md, "Alerts").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"


class AlertKind(models.TextChoices):
    WORKFLOW_FAILING = "workflow_failing", "Workflow failing"
    SYNC_STOPPED = "sync_stopped", "Sync stopped"
    AUTH_FAILURE = "auth_failure", "API authentication failing"
    QUALITY_BELOW = "quality_below", "Data quality below threshold"
    SUCCESS_RATE = "success_rate", "Success rate below threshold"
    SLOW_RUN = "slow_run", "Execution time above normal"
    ERROR_RATE_UP = "error_rate_up", "Error rate trending up"
    QUOTA_USED = "quota_used", "API quota used above threshold"


# Kinds about a workflow vs about a connection: decides which subject a rule scans.
CONNECTION_KINDS = (AlertKind.AUTH_FAILURE, AlertKind.QUOTA_USED)


class AlertRule(models.Model):
    """What to watch, how bad it is, and whom to tell. A rule without a workflow (or
    connection) watches every enabled workflow (or every HubSpot connection)."""

    name = models.SlugField(max_length=80, unique=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    workflow = models.ForeignKey(
        "pipelines.Workflow",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: every enabled workflow.",
    )
    connection = models.ForeignKey(
        "integrations.Connection",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: every HubSpot connection (authentication and quota rules).",
    )
    threshold_percent = models.FloatField(
        null=True,
        blank=True,
        help_text="Success rate, quality score or quota limit, in percent (kind's default if empty).",
    )
    expected_every_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sync stopped: a successful run is expected this often."
    )
    failing_minutes = models.PositiveIntegerField(
        default=60, help_text="Workflow failing: every run has failed for this long."
    )
    slack_connection = models.ForeignKey(
        "integrations.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Post to this Slack connection when the alert opens and resolves.",
    )
    slack_channel = models.CharField(max_length=80, blank=True)
    email_to = models.CharField(
        max_length=500,
        blank=True,
        help_text="Comma-separated addresses. Empty: ALERT_EMAILS (when no Slack is set).",
    )
    enabled = models.BooleanField(default=True)
    silenced_until = models.DateTimeField(
        null=True, blank=True, help_text="No notifications until then; alerts still open."
    )
    silence_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One occurrence of a rule firing for one subject ("workflow:clay-to-hubspot")."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(max_length=120)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.OPEN)
    summary = models.CharField(max_length=300)
    evidence = models.CharField(max_length=500, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set once the open (resolve) notification went out, or was deliberately not sent
    # (silenced): a failed send stays empty and the next evaluation tries again.
    open_notified_at = models.DateTimeField(null=True, blank=True)
    resolve_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(state="open"),
                name="monitoring_alert_one_open_per_subject",
            )
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="monitoring_alert_state_idx")]
        permissions = [("acknowledge_alert", "Can acknowledge and silence alerts")]

    def __str__(self) -> str:
        return f"{self.rule.name} {self.subject} ({self.state})"


class AlertEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    RESOLVED = "resolved", "Resolved"
    NOTIFIED = "notified", "Notified"
    NOTIFY_FAILED = "notify_failed", "Notification failed"
    NOT_NOTIFIED = "not_notified", "Not notified (silenced)"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class AlertEvent(models.Model):
    """An alert's history, in order: opened, notified, acknowledged, resolved..."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=AlertEventKind.choices)
    detail = models.CharField(max_length=300, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alert", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind}"
