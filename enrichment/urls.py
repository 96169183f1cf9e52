"""Mounted under ADMIN_URL + "switchyard/enrichment/" (config/urls.py)."""

from django.urls import path

from enrichment import views

app_name = "enrichment"

urlpatterns = [
    path("", views.workflow_list, name="workflows"),
    path("<int:workflow_id>/configure/", views.configure, name="configure"),
    path("<int:workflow_id>/run/", views.run_now, name="run-now"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", views.run_progress, name="run-progress"),
]
