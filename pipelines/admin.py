"""Plain admin registrations so pipelines data is visible. The import wizard, dead-letter
review, run history and mapping editor screens are built on the services separately.

Configuration (workflows, mapping versions) is audited: `AuditedModelAdmin` first in the
bases records every add, change and delete with its diff (SOC 2 CC8.1). Runs, batches, dead
letters and events are read-only here; their changes are audited by the services.
"""

from django.contrib import admin
from django.db import models
from django.utils.html import format_html

from audit.admin_mixins import AuditedModelAdmin, ReadOnlyModelAdmin
from integrations.inbound import json_render
from pipelines.models import (
    DeadLetter,
    FieldMappingVersion,
    InboundEvent,
    Run,
    RunBatch,
    SyncedContact,
    Workflow,
)

_JSON_SUFFIX = "_as_json"


def _safe_json_name(model: type[models.Model], name: str) -> str:
    try:
        field = model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - not a model field (a method): shown as it is
        return name
    return name + _JSON_SUFFIX if isinstance(field, models.JSONField) else name


class FieldMappingVersionInline(admin.TabularInline):
    model = FieldMappingVersion
    extra = 0
    fields = ("version", "created_by_label", "created_at", "note")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Workflow)
class WorkflowAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = ("slug", "type", "source_connection", "destination_connection", "enabled")
    list_filter = ("type", "enabled")
    search_fields = ("slug", "name")
    inlines = [FieldMappingVersionInline]


@admin.register(FieldMappingVersion)
class FieldMappingVersionAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = ("workflow", "version", "created_by_label", "created_at")
    list_filter = ("workflow",)
    readonly_fields = (
        "workflow",
        "version",
        "rules",
        "created_by",
        "created_by_label",
        "created_at",
    )

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable; edit by creating a new one


class WorkRecordAdmin(ReadOnlyModelAdmin):
    """Runs, batches, dead letters, inbound events and sync state are written by the pipeline's
    services only: adding, editing or deleting them here would bypass the record state machine
    and the audit log. Dead letters are fixed and reprocessed on the Dead letters screen;
    retention and privacy requests remove old and personal rows.

    Stored JSON (payloads, rows) is shown through `json_render`, cut at the parse-time depth
    limit: Django's own display re-encodes it recursively, and a payload nested 900 levels
    deep (stored before the limit, or by another path) made the page a 500."""

    def get_readonly_fields(self, request, obj=None):
        names = super().get_readonly_fields(request, obj)
        return [_safe_json_name(self.model, name) for name in names]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)  # every field here is read-only

    def __getattr__(self, name: str):
        if name.endswith(_JSON_SUFFIX):
            field = name.removesuffix(_JSON_SUFFIX)

            @admin.display(description=field.replace("_", " "))
            def shown(obj) -> str:
                return format_html("<pre>{}</pre>", json_render(getattr(obj, field)))

            return shown
        raise AttributeError(name)


@admin.register(Run)
class RunAdmin(WorkRecordAdmin):
    list_display = (
        "id",
        "workflow",
        "trigger",
        "status",
        "records_in",
        "succeeded",
        "dead_lettered",
        "skipped",
        "created_at",
        "duration_ms",
    )
    list_filter = ("status", "trigger", "workflow")
    readonly_fields = [f.name for f in Run._meta.fields]
    date_hierarchy = "created_at"


@admin.register(RunBatch)
class RunBatchAdmin(WorkRecordAdmin):
    list_display = ("run", "sequence", "state", "attempts", "lease_expires_at", "last_error")
    list_filter = ("state",)
    readonly_fields = [f.name for f in RunBatch._meta.fields]


@admin.register(DeadLetter)
class DeadLetterAdmin(WorkRecordAdmin):
    list_display = (
        "id",
        "run",
        "workflow",
        "stage",
        "category",
        "attempts",
        "resolution",
        "created_at",
    )
    list_filter = ("resolution", "stage", "category", "workflow")
    readonly_fields = [f.name for f in DeadLetter._meta.fields]


@admin.register(InboundEvent)
class InboundEventAdmin(WorkRecordAdmin):
    list_display = ("id", "source", "workflow", "event_id", "received_at", "processed_at", "run")
    list_filter = ("source", "workflow")
    readonly_fields = [f.name for f in InboundEvent._meta.fields]


@admin.register(SyncedContact)
class SyncedContactAdmin(WorkRecordAdmin):
    list_display = ("workflow", "hubspot_id", "last_synced_at", "last_run")
    list_filter = ("workflow",)
    readonly_fields = [f.name for f in SyncedContact._meta.fields]


from pipelines.routing import admin as routing_admin  # noqa: F401,E402 - MQL routing screens
