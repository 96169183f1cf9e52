"""Events in, subscriptions out. See docs/events.md for the semantics each field carries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from integrations.crypto import EncryptedTextField


class EventSourceKind(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot webhook"
    CLAY = "clay", "Clay webhook"
    STANDARD = "standard", "Standard Webhooks sender"
    INTERNAL = "internal", "Switchyard itself"


class Event(models.Model):
    """One thing that happened, stored before anything reacts to it.

    ``dedupe_key`` is unique: a sender's retry or resend of the same event finds the row and
    is acknowledged without a second fan-out. ``uid`` is the stable id shown everywhere.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=80, help_text="The connection name, or 'internal'.")
    source_kind = models.CharField(max_length=20, choices=EventSourceKind.choices)
    dedupe_key = models.CharField(max_length=300, unique=True)
    source_event_id = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=120, help_text="e.g. deal.propertyChange, run.finished")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=120, blank=True)
    property_name = models.CharField(max_length=120, blank=True)
    property_value = models.CharField(max_length=500, blank=True)
    previous_value = models.CharField(
        max_length=500, blank=True, help_text="The value before this change, as we last saw it."
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(db_index=True)
    payload = models.JSONField(help_text="The event as the sender sent it.")
    fields = models.JSONField(default=dict, help_text="What templates and conditions read.")
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    matched = models.PositiveIntegerField(default=0, help_text="Subscribers matched.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["source", "object_type", "object_id", "property_name", "-occurred_at"],
                name="events_event_object_idx",
            ),
            models.Index(
                fields=["received_at"],
                name="events_event_pending_idx",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id} ({self.uid})"


class Subscription(models.Model):
    """A trigger (which events) bound to its subscribers (who reacts)."""

    name = models.SlugField(max_length=80, unique=True)
    enabled = models.BooleanField(default=True)
    source = models.CharField(
        max_length=80, blank=True, help_text="Connection name events come from; empty: any."
    )
    event_type = models.CharField(
        max_length=120,
        blank=True,
        help_text="e.g. propertyChange, creation, run.finished; empty: any.",
    )
    object_type = models.CharField(max_length=60, blank=True, help_text="deal, contact, ...")
    property_name = models.CharField(max_length=120, blank=True)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConditionOperator(models.TextChoices):
    EQUALS = "equals", "equals"
    NOT_EQUALS = "not_equals", "does not equal"
    IN = "in", "is one of (comma-separated)"
    CONTAINS = "contains", "contains"
    GREATER = "gt", "is greater than"
    LESS = "lt", "is less than"
    IS_EMPTY = "is_empty", "is empty"
    NOT_EMPTY = "not_empty", "is not empty"


class TriggerCondition(models.Model):
    """One row of the condition builder: all rows of a subscription must hold."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="conditions"
    )
    field = models.CharField(max_length=120, help_text="An event field or object property.")
    operator = models.CharField(max_length=20, choices=ConditionOperator.choices)
    value = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["subscription", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value}"


class SubscriberKind(models.TextChoices):
    SLACK = "slack", "Slack message"
    CLAY_TABLE = "clay_table", "Clay table webhook"
    HTTP = "http", "HTTP (signed, Standard Webhooks)"
    HUBSPOT_TASK = "hubspot_task", "HubSpot: create task"
    HUBSPOT_NOTE = "hubspot_note", "HubSpot: create note"
    HUBSPOT_PROPERTY = "hubspot_property", "HubSpot: update a property"
    HUBSPOT_RECORD = "hubspot_record", "HubSpot: create an associated record"
    WAREHOUSE = "warehouse", "Warehouse insert"


class SubscriberState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused (circuit open)"
    DISABLED = "disabled", "Disabled"


class Subscriber(models.Model):
    """Who reacts, and how. ``options`` holds the kind's settings (channel, text, path,
    subject, table, property...), edited through per-kind form fields in the admin."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="subscribers"
    )
    name = models.SlugField(max_length=80)
    kind = models.CharField(max_length=30, choices=SubscriberKind.choices)
    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.PROTECT, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True)
    ordered = models.BooleanField(
        default=True,
        help_text="Deliver events about one object in the order they happened.",
    )
    state = models.CharField(
        max_length=20, choices=SubscriberState.choices, default=SubscriberState.ACTIVE
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_until = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    # HTTP subscribers: whsec_… secrets we sign with, one per line; during a rotation both
    # the new and the old one, so the receiver accepts either (docs/events.md).
    signing_secret = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["subscription", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "name"], name="events_subscriber_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription.name}/{self.name}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead letter"
    SKIPPED = "skipped", "Skipped (filtered)"


OPEN_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)


class Delivery(models.Model):
    """One event to one subscriber, with its own state, attempts and schedule.

    The row is the source of truth: a Celery message only wakes a worker, which claims due
    rows with SELECT … FOR UPDATE SKIP LOCKED. ``payload`` is what will be sent (editable
    while dead-lettered); ``idempotency_key`` is stable across retries and redeliveries.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    skip_reason = models.CharField(max_length=200, blank=True)
    ordering_key = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField(default=dict)
    original_payload = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    error_category = models.CharField(max_length=60, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="e.g. Slack ts, HubSpot id.")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    redeliveries = models.PositiveSmallIntegerField(default=0)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscriber"], name="events_delivery_once_per_subscriber"
            )
        ]
        indexes = [
            models.Index(
                fields=["subscriber", "next_attempt_at"],
                name="events_delivery_due_idx",
                condition=models.Q(state="pending"),
            ),
            models.Index(
                fields=["subscriber", "ordering_key", "id"],
                name="events_delivery_order_idx",
                condition=models.Q(state__in=["pending", "sending"]),
            ),
            models.Index(fields=["state", "lease_expires_at"], name="events_delivery_state_idx"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.state})"


class DeliveryLetter(models.Model):
    """A dead-lettered delivery's entry in the dead-letter queue (pipelines.DeadLetter, stage
    ``deliver``). A delivery redelivered and dead again has one letter per time it gave up;
    at most one is open (docs/events.md, "Dead letters")."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="letters")
    dead_letter = models.OneToOneField(
        "pipelines.DeadLetter", on_delete=models.CASCADE, related_name="delivery_link"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Delivery {self.delivery_id} → dead letter {self.dead_letter_id}"
