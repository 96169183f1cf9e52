"""What was last synced for a match key, so an unchanged record is not sent again."""

from __future__ import annotations

from django.db import models


class SyncedContact(models.Model):
    """Sync state of one (workflow, match key): the hash of the values last written
    successfully. A record whose values hash the same is skipped as "unchanged": the second
    import of a file costs zero HubSpot calls."""

    workflow = models.ForeignKey(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="synced_contacts"
    )
    match_key = models.CharField(max_length=320)
    values_hash = models.CharField(max_length=64)
    hubspot_id = models.CharField(max_length=40, blank=True)
    last_synced_at = models.DateTimeField()
    last_run = models.ForeignKey(
        "pipelines.Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "match_key"], name="pipelines_synced_contact_unique"
            ),
        ]
        verbose_name = "sync state"
        verbose_name_plural = "sync state"

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.hubspot_id or '?'}"
