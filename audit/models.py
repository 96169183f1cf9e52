from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyViolation(RuntimeError):
    """Raised on any attempt to change or delete an audit event through the ORM."""


class AuditEventQuerySet(models.QuerySet):
    """No bulk writes: `update()`, `delete()` and `bulk_create()` would bypass the hash chain.

    Retention purges go through `audit.retention`, which deletes with raw SQL inside the one
    transaction the PostgreSQL trigger lets through.
    """

    def update(self, **kwargs):
        raise AppendOnlyViolation("audit events are append-only: update() refused")

    def delete(self):
        raise AppendOnlyViolation("audit events are append-only: delete() refused")

    def bulk_create(self, *args, **kwargs):
        raise AppendOnlyViolation("audit events are written one by one by audit_event_record")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyViolation("audit events are append-only: bulk_update() refused")

    def update_or_create(self, *args, **kwargs):
        raise AppendOnlyViolation("audit events are append-only: update_or_create() refused")


class AuditEvent(models.Model):
    """One thing that happened: who did what to which object, and how it changed.

    Append-only and tamper-evident: only `audit_event_record` inserts; `save()` of an existing
    row and `delete()` raise; on PostgreSQL a trigger refuses UPDATE and DELETE; `hash` chains
    each event to the previous one (`manage.py audit verify`). Diffs hold masked secrets and
    hashed personal data, never the values themselves.
    """

    # Set by audit_event_record (not auto_now_add) so the hashed value is the stored value.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint and DO_NOTHING: deleting a user must not rewrite (SET NULL) the
    # events they caused, which the trigger would refuse and the hash chain would flag. The
    # username at the time is kept in actor_label.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The user's username at the time, or the system component ("celery:clay-to-hubspot").
    actor_label = models.CharField(max_length=200)
    # Indexed together with id (Meta.indexes), which also serves plain lookups by action.
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The viewer pages by id descending under each filter (keyset pagination), so
            # each filter column is indexed together with id.
            models.Index(fields=["object_type", "object_id", "id"], name="audit_event_object_idx"),
            models.Index(fields=["actor_label", "id"], name="audit_audit_actor_l_462f90_idx"),
            models.Index(fields=["action", "id"], name="audit_event_action_id_idx"),
        ]
        permissions = [
            ("export_auditevent", "Can export audit events"),
            (
                "export_personal_data",
                "Can export personal data (privacy access requests, dead letters)",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation(
                f"audit event {self.pk} is append-only: save() of an existing row refused"
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation(f"audit event {self.pk} is append-only: delete() refused")


class SuppressedEmail(models.Model):
    """An erased person, by email hash: imports and webhooks skip them from now on."""

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=40, default="erasure")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "suppressed email"

    def __str__(self) -> str:
        return f"{self.email_hash[:16]}… ({self.reason})"


class PrivacyRequest(models.Model):
    """A GDPR erasure or a CCPA access request, kept (as a hash) as evidence it was honoured."""

    class Kind(models.TextChoices):
        ERASURE = "erasure", "Erasure (GDPR Art. 17)"
        ACCESS = "access", "Access export (CCPA)"

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        PARTIAL = "partial", "Partial: a store failed; run it again"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    email_hash = models.CharField(max_length=64, db_index=True)
    subject_masked = models.CharField(
        max_length=260, blank=True, help_text="Whom it concerned, masked: s•••@firma.dk"
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    receipt = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("perform_privacy_request", "Can erase a person's data (privacy erasure requests)"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.email_hash[:12]}… {self.created_at:%Y-%m-%d}"
