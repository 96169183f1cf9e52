"""The admin site whose index is the operations home.

A RevOps admin lands on "is everything healthy?" rather than Django's model list. The model
list moves to ``<admin>/models/``; django-celery-beat's raw tables (intervals, crontabs, solar
events, clocked) are listed there and in the sidebar only for those who may edit schedules
(integration engineers), and stay reachable by URL for everyone allowed to view them.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

# django-celery-beat's raw schedule tables: building blocks of a periodic task, not something a
# RevOps admin edits. "Periodic tasks" itself stays listed for every role that may see it.
ENGINEER_ONLY_MODELS = {
    ("django_celery_beat", "clockedschedule"),
    ("django_celery_beat", "crontabschedule"),
    ("django_celery_beat", "intervalschedule"),
    ("django_celery_beat", "solarschedule"),
}


class SwitchyardAdminSite(admin.AdminSite):
    site_header = "Switchyard"
    site_title = "Switchyard"
    index_title = "Operations"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        apps = super().get_app_list(request, app_label)
        if request.user.has_perm("django_celery_beat.change_periodictask") or app_label:
            return apps
        for app in apps:
            app["models"] = [
                model
                for model in app["models"]
                if (app["app_label"], model["object_name"].lower()) not in ENGINEER_ONLY_MODELS
            ]
        return [app for app in apps if app["models"]]

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        from monitoring.home import home_context

        context = {**self.each_context(request), **home_context(request=request)}
        return TemplateResponse(request, "monitoring/home.html", context)

    def models_index(self, request: HttpRequest) -> HttpResponse:
        """Django's own index: every model the user may see, by app."""
        return super().index(request, extra_context={"title": "All data"})

    def get_urls(self):
        from monitoring.home import alert_acknowledge_view

        return [
            path("models/", self.admin_view(self.models_index), name="models"),
            path(
                "operations/alerts/<int:alert_id>/acknowledge/",
                self.admin_view(alert_acknowledge_view),
                name="alert-acknowledge",
            ),
            *super().get_urls(),
        ]


class SwitchyardAdminConfig(AdminConfig):
    default_site = "monitoring.admin_site.SwitchyardAdminSite"
