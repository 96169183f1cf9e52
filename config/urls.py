from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import health
from monitoring.metrics import metrics_view

admin.site.site_header = "Switchyard"
admin.site.site_title = "Switchyard"
admin.site.index_title = "RevOps data hub"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("integrations/", include("integrations.urls")),
    path("hooks/events/", include("events.urls")),
    path("hooks/", include("pipelines.urls")),
    path(settings.ADMIN_URL + "switchyard/enrichment/", include("enrichment.urls")),
    path(settings.ADMIN_URL + "switchyard/", include("pipelines.screens.urls")),
    path(settings.ADMIN_URL + "ops/", include("monitoring.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
