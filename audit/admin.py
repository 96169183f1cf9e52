"""The audit log, privacy requests and the suppression list in the admin; all read-only.

The audit log's list and detail pages are the custom viewer in audit/views.py (keyset pages,
no COUNT), reached at the admin's usual URLs so links and permissions stay Django's.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from audit import (
    admin_audited,  # noqa: F401 - re-registers schedules, users and groups with auditing
    privacy_views,
    views,
)
from audit.admin_mixins import ReadOnlyModelAdmin
from audit.models import AuditEvent, PrivacyRequest, SuppressedEmail


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    def get_urls(self):
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name="audit_auditevent_export"
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return views.event_list_view(request, self)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return views.event_detail_view(request, self, object_id)

    def export_view(self, request):
        return views.event_export_view(request, self)


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "kind", "status", "short_hash", "actor_label")
    list_filter = ("kind", "status")
    search_fields = ("=email_hash",)
    fields = ("kind", "status", "email_hash", "actor_label", "created_at", "receipt")
    readonly_fields = fields
    change_list_template = "audit/privacyrequest_change_list.html"

    @admin.display(description="Email hash")
    def short_hash(self, obj):
        return f"{obj.email_hash[:16]}…"

    @admin.display(description="Concerning")
    def subject(self, obj):
        return obj.subject_masked or "—"

    def get_list_display(self, request):
        """Whom a request concerned (masked) only to those who may make such requests."""
        allowed = request.user.has_perm("audit.perform_privacy_request") or request.user.has_perm(
            "audit.export_personal_data"
        )
        shown = list(super().get_list_display(request))
        return [*shown[:3], "subject", *shown[3:]] if allowed else shown

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("erase/", wrap(self.erase_view), name="audit_privacyrequest_erase"),
            path("access/", wrap(self.access_view), name="audit_privacyrequest_access"),
            *super().get_urls(),
        ]

    def erase_view(self, request):
        return privacy_views.erasure_view(request, self)

    def access_view(self, request):
        return privacy_views.access_export_view(request, self)

    def changelist_view(self, request, extra_context=None):
        extra = {
            "can_erase": request.user.has_perm("audit.perform_privacy_request"),
            "can_export": request.user.has_perm("audit.export_personal_data"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)


@admin.register(SuppressedEmail)
class SuppressedEmailAdmin(ReadOnlyModelAdmin):
    list_display = ("email_hash", "reason", "created_at")
    search_fields = ("=email_hash",)
