"""Quality rules are edited here by a RevOps admin: each field is a plain choice or value,
never JSON. Measurements and QA samples are read-only records."""

from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from quality.models import QASample, QualityRule, RunQuality


@admin.register(QualityRule)
class QualityRuleAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = ("workflow", "object_type", "field", "kind", "format", "severity", "enabled")
    list_filter = ("workflow", "kind", "severity", "enabled")
    search_fields = ("field",)
    fieldsets = (
        (None, {"fields": ("workflow", "object_type", "field", "kind", "severity", "enabled")}),
        ("Format", {"fields": ("format",), "description": "For “Has the format”."}),
        (
            "Range",
            {
                "fields": ("min_value", "max_value"),
                "description": "Numbers (employee count 1–1,000,000), or for a date range the "
                "earliest year (default 1900; dates in the future always fail).",
            },
        ),
        ("Allowed values", {"fields": ("allowed_values",)}),
        (
            "Required when",
            {
                "fields": ("when_field", "when_value"),
                "description": "E.g. closedate is required when lifecyclestage is customer.",
            },
        ),
    )


@admin.register(RunQuality)
class RunQualityAdmin(admin.ModelAdmin):
    list_display = (
        "run",
        "workflow",
        "measured_at",
        "records",
        "completeness",
        "consistency",
        "duplication",
        "rule_errors",
        "rule_warnings",
    )
    list_filter = ("workflow",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QASample)
class QASampleAdmin(admin.ModelAdmin):
    list_display = ("pk", "workflow", "created_at", "size", "reviewed", "correct", "accuracy")
    readonly_fields = [f.name for f in QASample._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
