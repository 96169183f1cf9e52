"""Quality measurements (read from pipelines' records, stored here; never written back)."""

from __future__ import annotations

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
