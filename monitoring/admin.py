"""Alert rules are edited here (and in `config apply`); alerts are read-only records whose
only actions are acknowledging them and silencing their rule."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone

from audit.admin_mixins import AuditedModelAdmin
from monitoring.models import Alert, AlertEvent, AlertRule
from monitoring.services import alert_acknowledge, alert_rule_silence


@admin.register(AlertRule)
class AlertRuleAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = (
        "name",
        "severity",
        "kind",
        "workflow",
        "connection",
        "enabled",
        "silenced_until",
    )
    list_filter = ("severity", "kind", "enabled")
    search_fields = ("name",)
    autocomplete_fields = ()
    actions = ["silence_for_4_hours", "lift_silence"]
    fieldsets = (
        (None, {"fields": ("name", "severity", "kind", "enabled")}),
        ("What it watches", {"fields": ("workflow", "connection")}),
        (
            "Thresholds",
            {"fields": ("threshold_percent", "expected_every_minutes", "failing_minutes")},
        ),
        ("Who is told", {"fields": ("slack_connection", "slack_channel", "email_to")}),
        ("Silence", {"fields": ("silenced_until", "silence_reason")}),
    )

    @admin.action(description="Silence for 4 hours", permissions=["change"])
    def silence_for_4_hours(self, request, queryset):
        until = timezone.now() + timedelta(hours=4)
        for rule in queryset:
            alert_rule_silence(
                rule=rule, until=until, reason="silenced from the admin", user=request.user
            )
        messages.success(request, f"{queryset.count()} rule(s) silenced until {until:%H:%M} UTC.")

    @admin.action(description="Lift the silence", permissions=["change"])
    def lift_silence(self, request, queryset):
        for rule in queryset:
            alert_rule_silence(rule=rule, until=None, reason="", user=request.user)


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "kind", "detail", "actor_label")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "opened_at",
        "severity",
        "rule",
        "subject",
        "state",
        "summary",
        "acknowledged_at",
    )
    list_filter = ("state", "severity", "rule")
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [AlertEventInline]
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_acknowledge_permission(self, request):
        return request.user.has_perm("monitoring.acknowledge_alert")

    @admin.action(description="Acknowledge", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        for alert in queryset:
            alert_acknowledge(alert=alert, user=request.user)
        messages.success(request, f"{queryset.count()} alert(s) acknowledged.")
