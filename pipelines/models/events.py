"""Inbound webhook events, stored before they are answered (docs/reference/reliability.md#inbound-webhooks)."""

from __future__ import annotations

from django.db import models


class InboundEvent(models.Model):
    """One inbound delivery (a single record or an array), kept verbatim.

    ``dedupe_key`` is unique: the sender's event id when it sends one, else a hash of the
    connection and the body (Clay sends no id, docs/reference/clay.md#http-api-column). The unique constraint, not a
    cache, is what makes a replay harmless. Generic on purpose: the HubSpot webhook receiver
    reuses it with source="hubspot".
    """

    source = models.CharField(max_length=40)
    workflow = models.ForeignKey(
        "pipelines.Workflow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_events",
    )
    connection = models.ForeignKey(
        "integrations.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    event_id = models.CharField(max_length=200, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        "pipelines.Run",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_events",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workflow", "processed_at"], name="pipelines_event_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source} event {self.event_id or self.pk}"
