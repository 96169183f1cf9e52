"""The admin bases every app uses.

`ReadOnlyModelAdmin`: rows only services write (audit events, runs, dead letters...); nobody
adds, changes or deletes them through the admin, superusers included.

`AuditedModelAdmin`: every create, change and delete through the admin becomes an event.

Put it first in the bases of a ModelAdmin: `class WorkflowAdmin(AuditedModelAdmin, admin.ModelAdmin)`.
It records:
- add and change, with a before → after diff (`changes_diff`), after the many-to-many fields
  were saved, so group and permission changes are in the diff (SOC 2 CC6.3);
- delete, one event per object, from the change page and from "delete selected";
- other bulk actions (enable/disable schedules...), one event per changed object;
- inline rows (a territory's owners, a routing configuration's rules): one event per row
  added, changed or deleted, `<inline model>.created|changed|deleted`, naming the parent.

Secrets are masked and personal fields hashed; declare extra ones in `audit_secret_fields`
and `audit_personal_fields` when their names do not give them away.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.http import HttpRequest

from audit.masking import changes_diff, json_safe
from audit.services import audit_event_record

_BEFORE = "_audit_before"


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes these through the admin, superusers included."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


BULK_ACTION_LIMIT = 1000


def model_snapshot(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Field values (foreign keys as ids, many-to-many as sorted ids), JSON-safe."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        data[field.name] = json_safe(field.value_from_object(obj))
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            if field.name not in exclude:
                data[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return data


class AuditedModelAdmin:
    audit_action_prefix: str = ""
    audit_secret_fields: tuple[str, ...] = ()
    audit_personal_fields: tuple[str, ...] = ()
    audit_exclude_fields: tuple[str, ...] = ()

    # --- helpers -------------------------------------------------------------------------

    def audit_action(self, verb: str) -> str:
        return f"{self.audit_action_prefix or self.model._meta.model_name}.{verb}"

    def audit_snapshot(self, obj: models.Model) -> dict[str, Any]:
        return model_snapshot(obj, exclude=self.audit_exclude_fields)

    def audit_diff(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
        return changes_diff(
            before,
            after,
            secret_fields=self.audit_secret_fields,
            personal_fields=self.audit_personal_fields,
        )

    def audit_record(
        self,
        request: HttpRequest,
        obj: models.Model,
        verb: str,
        changes: dict,
        *,
        object_id: Any = None,
        **metadata,
    ) -> None:
        audit_event_record(
            action=self.audit_action(verb),
            obj=obj,
            changes=changes,
            request=request,
            object_id=object_id if object_id is not None else "",
            source="admin",
            metadata=metadata,
        )

    def _fresh_snapshot(self, obj: models.Model) -> dict[str, Any]:
        current = (
            type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
        )
        return self.audit_snapshot(current) if current is not None else {}

    # --- add / change ------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        # Snapshot the stored row before the form's values are written over it.
        setattr(obj, _BEFORE, self._fresh_snapshot(obj) if change else {})
        super().save_model(request, obj, form, change)

    def log_addition(self, request, obj, message):
        # Called after save_related: the many-to-many values are in place.
        self.audit_record(request, obj, "created", self.audit_diff({}, self.audit_snapshot(obj)))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        before = getattr(obj, _BEFORE, None)
        if before is not None:  # only for changes saved through save_model
            diff = self.audit_diff(before, self.audit_snapshot(obj))
            if diff:
                self.audit_record(request, obj, "changed", diff)
        return super().log_change(request, obj, message)

    # --- inline formsets -------------------------------------------------------------------------

    # An inline row (a territory's rule, a workflow's owner) is configuration of its own: each
    # add, change and delete is an event on the row, naming its parent in the metadata.

    def save_formset(self, request, form, formset, change):
        model = formset.model
        deleted = {
            id(f.instance): (f.instance.pk, self.audit_snapshot(f.instance))
            for f in formset.deleted_forms
            if f.instance.pk is not None
        }
        # The forms already wrote their values onto the instances: the stored rows are "before".
        stored = {
            obj.pk: self.audit_snapshot(obj)
            for obj in model._default_manager.filter(
                pk__in=[
                    f.instance.pk
                    for f in formset.initial_forms
                    if f.instance.pk is not None and f.has_changed()
                ]
            )
        }
        super().save_formset(request, form, formset, change)
        parent = {
            "parent_type": form.instance._meta.label_lower,
            "parent_id": str(form.instance.pk),
            "inline": True,
        }
        prefix = model._meta.model_name
        for obj in formset.new_objects:
            self._inline_record(
                request,
                obj,
                f"{prefix}.created",
                self.audit_diff({}, self.audit_snapshot(obj)),
                parent,
            )
        for obj, _fields in formset.changed_objects:
            diff = self.audit_diff(stored.get(obj.pk, {}), self.audit_snapshot(obj))
            if diff:
                self._inline_record(request, obj, f"{prefix}.changed", diff, parent)
        for obj in formset.deleted_objects:
            pk, snapshot = deleted.get(id(obj), (None, {}))
            self._inline_record(
                request,
                obj,
                f"{prefix}.deleted",
                self.audit_diff(snapshot, {}),
                parent,
                object_id=pk,
            )

    def _inline_record(
        self, request, obj, action: str, changes: dict, metadata: dict, *, object_id: Any = None
    ) -> None:
        audit_event_record(
            action=action,
            obj=obj,
            changes=changes,
            request=request,
            source="admin",
            object_id=object_id if object_id is not None else "",
            metadata=metadata,
        )

    # --- delete ----------------------------------------------------------------------------------

    # Recorded after the delete succeeded; the pk is kept first because Django clears it.

    def delete_model(self, request, obj):
        snapshot, pk = self.audit_snapshot(obj), obj.pk
        super().delete_model(request, obj)
        self.audit_record(request, obj, "deleted", self.audit_diff(snapshot, {}), object_id=pk)

    def delete_queryset(self, request, queryset):
        snapshots = [(obj, obj.pk, self.audit_snapshot(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for obj, pk, snapshot in snapshots:
            self.audit_record(
                request, obj, "deleted", self.audit_diff(snapshot, {}), object_id=pk, bulk=True
            )

    # --- other bulk actions ----------------------------------------------------------------------

    def response_action(self, request, queryset):
        action = request.POST.get("action", "")
        if action == "delete_selected" or request.POST.get("select_across") == "1":
            # Deletion is recorded per object in delete_queryset; "select all" over a whole
            # table is recorded as one event below instead of snapshotting every row.
            if action != "delete_selected":
                audit_event_record(
                    action=self.audit_action("bulk_action"),
                    object_type=self.model._meta.label_lower,
                    request=request,
                    source="admin",
                    metadata={"admin_action": action, "selection": "all"},
                )
            return super().response_action(request, queryset)
        pks = request.POST.getlist(ACTION_CHECKBOX_NAME)[:BULK_ACTION_LIMIT]
        before = {
            obj.pk: self.audit_snapshot(obj)
            for obj in self.model._default_manager.filter(pk__in=pks)
        }
        response = super().response_action(request, queryset)
        changed = 0
        for obj in self.model._default_manager.filter(pk__in=list(before)):
            diff = self.audit_diff(before[obj.pk], self.audit_snapshot(obj))
            if diff:
                changed += 1
                self.audit_record(request, obj, "changed", diff, admin_action=action)
        if before and not changed:
            # An action that changes no field (e.g. "run now") is still worth a trace.
            audit_event_record(
                action=self.audit_action("bulk_action"),
                object_type=self.model._meta.label_lower,
                request=request,
                source="admin",
                metadata={"admin_action": action, "ids": [str(pk) for pk in before]},
            )
        return response
