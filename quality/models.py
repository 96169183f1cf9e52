"""Quality measurements (read from pipelines' records, stored here; never written back)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RunQuality(models.Model):
    """The quality of one finished run's records (docs/quality.md gives each formula).

    Percentages are None when nothing was in scope ("not evaluated"), never 0 or 100."""

    run = models.OneToOneField("pipelines.Run", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey("pipelines.Workflow", on_delete=models.CASCADE, related_name="+")
    measured_at = models.DateTimeField()
    records = models.PositiveIntegerField(default=0)
    completeness = models.FloatField(null=True, blank=True)
    consistency = models.FloatField(null=True, blank=True)
    duplication = models.FloatField(null=True, blank=True)
    timeliness_days = models.FloatField(null=True, blank=True)
    rule_errors = models.PositiveIntegerField(default=0)
    rule_warnings = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-measured_at"]
        verbose_name_plural = "run quality"
        indexes = [models.Index(fields=["workflow", "-measured_at"], name="quality_runq_wf_idx")]

    def __str__(self) -> str:
        return f"Run {self.run_id} quality"

    @property
    def score(self) -> float | None:
        """Mean of completeness and consistency: what the record itself controls."""
        parts = [p for p in (self.completeness, self.consistency) if p is not None]
        return sum(parts) / len(parts) if parts else None


class RuleCheck(models.TextChoices):
    REQUIRED = "required", "Is required"
    FORMAT = "format", "Has the format"
    RANGE = "range", "Is a number between"
    DATE_RANGE = "date_range", "Is a date not in the future and not before the minimum year"
    ALLOWED = "allowed", "Is one of the allowed values"
    REQUIRED_WHEN = "required_when", "Is required when another field has a value"


class RuleFormat(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE_E164 = "phone_e164", "Phone number in E.164 (+14155550123)"
    URL = "url", "URL with http(s)://"
    ISO_DATE = "iso_date", "ISO date (2026-03-31)"


class RuleSeverity(models.TextChoices):
    ERROR = "error", "Error: the record is dead-lettered"
    WARNING = "warning", "Warning: the record is synced and the warning counted"


class QualityRule(models.Model):
    """One check on one property of the records a workflow sends, edited in the admin as a
    sentence ("lifecyclestage ... closedate is required when lifecyclestage is customer");
    applied in the workflow's transform step (quality/rules.py)."""

    workflow = models.ForeignKey(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="quality_rules"
    )
    object_type = models.CharField(max_length=40, default="contacts")
    field = models.CharField(max_length=100, help_text="The HubSpot property, e.g. `phone`.")
    kind = models.CharField(max_length=20, choices=RuleCheck.choices, verbose_name="check")
    format = models.CharField(max_length=20, choices=RuleFormat.choices, blank=True)
    min_value = models.FloatField(
        null=True, blank=True, help_text="Range: smallest number; date range: earliest year."
    )
    max_value = models.FloatField(null=True, blank=True, help_text="Range: largest number.")
    allowed_values = models.TextField(
        blank=True, help_text="Allowed values: one per line (compared without case)."
    )
    when_field = models.CharField(
        max_length=100, blank=True, help_text="Required when: this other property…"
    )
    when_value = models.CharField(
        max_length=200, blank=True, help_text="…has this value (e.g. lifecyclestage = customer)."
    )
    severity = models.CharField(
        max_length=10, choices=RuleSeverity.choices, default=RuleSeverity.ERROR
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow", "object_type", "field", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.get_kind_display().lower()}"


class QASample(models.Model):
    """A random sample of synced records a person marks correct or incorrect: accuracy is
    the share marked correct, with its Wilson 95 % interval (docs/quality.md, "Accuracy")."""

    workflow = models.ForeignKey("pipelines.Workflow", on_delete=models.CASCADE, related_name="+")
    population = models.PositiveIntegerField(help_text="Loaded records it was drawn from.")
    size = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reviewed = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    accuracy = models.FloatField(null=True, blank=True, help_text="correct / reviewed, 0-1")
    accuracy_low = models.FloatField(null=True, blank=True)
    accuracy_high = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "QA sample"

    def __str__(self) -> str:
        return f"QA sample {self.pk} of {self.workflow_id}"


class QAVerdict(models.TextChoices):
    CORRECT = "correct", "Correct"
    INCORRECT = "incorrect", "Incorrect"


class QASampleItem(models.Model):
    sample = models.ForeignKey(QASample, on_delete=models.CASCADE, related_name="items")
    # SET_NULL: the retention purge may delete the record before review; the verdict stays.
    record = models.ForeignKey(
        "pipelines.RunRecord", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    verdict = models.CharField(max_length=10, choices=QAVerdict.choices, blank=True)
    note = models.CharField(max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sample", "id"]

    def __str__(self) -> str:
        return f"QA item {self.pk} ({self.verdict or 'not reviewed'})"


class PortalRecord(models.Model):
    """A HubSpot record as last extracted by the portal snapshot: the portal's own data,
    measured daily (not only what we sent). Personal data: found and erased by email through
    the privacy module's store (quality/privacy.py)."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    object_type = models.CharField(max_length=40)
    hubspot_id = models.CharField(max_length=40)
    email = models.CharField(max_length=320, blank=True, help_text="Contacts: lowercased.")
    domain = models.CharField(max_length=253, blank=True, help_text="Companies: bare domain.")
    properties = models.JSONField(default=dict)
    modified_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "hubspot_id"],
                name="quality_portal_record_unique",
            )
        ]
        indexes = [
            models.Index(fields=["email"], name="quality_portal_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.hubspot_id}"


class PortalSnapshot(models.Model):
    """One extract of one object type of one portal, and the quality measured after it."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+"
    )
    object_type = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    cursor_from = models.DateTimeField(null=True, blank=True, help_text="Empty: full extract.")
    cursor_to = models.DateTimeField(null=True, blank=True, help_text="Newest modification seen.")
    fetched = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0, help_text="Records held locally afterwards.")
    hubspot_total = models.PositiveIntegerField(null=True, blank=True)
    complete = models.BooleanField(null=True, help_text="held ≥ HubSpot's total.")
    error = models.CharField(max_length=300, blank=True)
    measures = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(
                fields=["connection", "object_type", "-started_at"], name="quality_snapshot_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.object_type} snapshot {self.started_at:%Y-%m-%d}"
