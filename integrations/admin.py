"""Connections in the admin: secrets are write-only, test and OAuth connect are one click."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from integrations.base_url import base_url_validate
from integrations.models import Connection, RequestLog

SECRET_LABELS = {
    "token": "Token / API key / webhook secret",
    "client_secret": "OAuth client secret",
    "access_token": "OAuth access token",
    "refresh_token": "OAuth refresh token",
}


class ConnectionForm(forms.ModelForm):
    """The model's secret columns are left out; these write-only fields stand in for them.

    An empty field keeps the stored value, and the stored value is never rendered back (the
    widget does not render values), so a secret saved once cannot be read from the browser.
    """

    class Meta:
        model = Connection
        # The secret columns are deliberately absent: a model field would render its value.
        fields = [
            "name",
            "provider",
            "environment",
            "auth_type",
            "base_url",
            "options",
            "connect_timeout",
            "read_timeout",
            "max_attempts",
            "rate_limit_requests",
            "rate_limit_seconds",
            "status",
        ]

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Empty: the provider's public API. Set it to reach a sandbox.",
    )
    new_token = forms.CharField(required=False)
    new_client_secret = forms.CharField(required=False)
    new_access_token = forms.CharField(required=False)
    new_refresh_token = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hints = self.instance.secret_hints if self.instance.pk else {}
        for field, label in SECRET_LABELS.items():
            hint = hints.get(field)
            form_field = self.fields[f"new_{field}"]
            form_field.label = label
            form_field.widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            )
            form_field.help_text = (
                f"Stored: ••••{hint}. Leave empty to keep it." if hint else "Not set."
            )

    def clean_base_url(self) -> str:
        url = self.cleaned_data.get("base_url") or ""
        if url:
            base_url_validate(url)
        return url

    def secrets(self) -> dict[str, str]:
        return {field: self.cleaned_data.get(f"new_{field}") or "" for field in SECRET_LABELS}


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = (
        "name",
        "provider",
        "environment",
        "status_badge",
        "credential_age_display",
        "last_test_verdict",
        "portal",
        "quota_used",
    )
    list_filter = ("provider", "environment", "status")
    search_fields = ("name",)
    readonly_fields = (
        "status_message",
        "paused_until",
        "last_tested_at",
        "last_test_verdict",
        "access_token_expires_at",
        "credential_age_display",
        "oauth_button",
        "portal",
    )
    actions = ["test_selected"]
    change_form_template = "admin/integrations/connection/change_form.html"

    fieldsets = (
        (None, {"fields": ("name", "provider", "environment", "auth_type", "base_url", "options")}),
        (
            "Credentials (write-only)",
            {
                "fields": (
                    "new_token",
                    "new_client_secret",
                    "new_access_token",
                    "new_refresh_token",
                    "credential_age_display",
                    "access_token_expires_at",
                    "oauth_button",
                )
            },
        ),
        (
            "Limits",
            {
                "fields": (
                    "connect_timeout",
                    "read_timeout",
                    "max_attempts",
                    "rate_limit_requests",
                    "rate_limit_seconds",
                )
            },
        ),
        (
            "State",
            {
                "fields": (
                    "status",
                    "status_message",
                    "paused_until",
                    "last_tested_at",
                    "last_test_verdict",
                    "portal",
                )
            },
        ),
    )

    @admin.display(description="Status")
    def status_badge(self, obj: Connection):
        css = {"active": "sy-ok", "waiting_for_quota": "sy-warn"}.get(obj.status, "sy-bad")
        return format_html('<span class="sy-badge {}">{}</span>', css, obj.get_status_display())

    @admin.display(description="Credentials age")
    def credential_age_display(self, obj: Connection):
        age = obj.credential_age
        if age is None:
            return "—"
        if obj.credentials_are_stale:
            return format_html(
                '<span class="sy-badge sy-warn">{} days — rotate (quarterly)</span>', age.days
            )
        return f"{age.days} days"

    @admin.display(description="HubSpot portal")
    def portal(self, obj: Connection):
        """Learned at Test connection / Connect; connections to one portal share its quota."""
        if not obj.portal_id:
            return "—"
        zone = f" ({obj.portal_timezone})" if obj.portal_timezone else ""
        return f"{obj.portal_id}{zone}"

    @admin.display(description="API quota used")
    def quota_used(self, obj: Connection):
        from integrations.selectors import connection_quota_used

        used = connection_quota_used(connection=obj)
        if used is None:
            return "—"
        return f"{used:.0%} of portal {obj.portal_id}" if obj.portal_id else f"{used:.0%}"

    @admin.display(description="OAuth")
    def oauth_button(self, obj: Connection):
        if not obj.pk or obj.provider != "hubspot" or obj.auth_type != "oauth":
            return "—"
        url = reverse("admin:integrations_connection_oauth_connect", args=[obj.pk])
        label = "Reconnect HubSpot" if obj.access_token_expires_at else "Connect HubSpot"
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    def save_model(self, request, obj, form, change):
        from integrations.services import connection_save

        connection_save(connection=obj, secrets=form.secrets(), actor=request.user, request=request)

    def delete_model(self, request, obj):
        from integrations.services import connection_delete

        connection_delete(connection=obj, actor=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.action(description="Test the selected connections", permissions=["test"])
    def test_selected(self, request, queryset):
        from integrations.connection_checks import connection_test

        for connection in queryset:
            verdict = connection_test(
                connection_id=connection.pk, actor=request.user, request=request
            )
            level = messages.SUCCESS if verdict.ok else messages.ERROR
            self.message_user(request, f"{connection.name}: {verdict.message}", level)

    def has_test_permission(self, request) -> bool:
        return request.user.has_perm("integrations.test_connection")

    def get_urls(self):
        from integrations import views

        own = [
            path(
                "<int:connection_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="integrations_connection_test",
            ),
            path(
                "<int:connection_id>/oauth/connect/",
                self.admin_site.admin_view(views.oauth_connect),
                name="integrations_connection_oauth_connect",
            ),
        ]
        return own + super().get_urls()

    def test_view(self, request, connection_id: int):
        from django.core.exceptions import PermissionDenied

        from integrations.connection_checks import connection_test

        if request.method != "POST":
            return redirect(reverse("admin:integrations_connection_change", args=[connection_id]))
        if not self.has_test_permission(request):
            raise PermissionDenied
        connection = get_object_or_404(Connection, pk=connection_id)
        verdict = connection_test(connection_id=connection.pk, actor=request.user, request=request)
        self.message_user(
            request,
            f"{connection.name}: {verdict.message}",
            messages.SUCCESS if verdict.ok else messages.ERROR,
        )
        return redirect(reverse("admin:integrations_connection_change", args=[connection_id]))


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "connection",
        "method",
        "path_template",
        "status",
        "duration_ms",
        "attempt",
        "rate_limit_remaining",
        "error_category",
    )
    list_filter = ("connection", "status", "error_category")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
