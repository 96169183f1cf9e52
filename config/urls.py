from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from audit.team_views import team_view
from config import health
from config.errors import favicon
from monitoring.metrics import metrics_view

admin.site.site_header = "Switchyard"
admin.site.site_title = "Switchyard"
admin.site.index_title = "RevOps data hub"
# "View site" leads to the product's home (the admin index), not a DEBUG 404 of every URL.
admin.site.site_url = "/" + settings.ADMIN_URL

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("integrations/", include("integrations.urls")),
    path("hooks/events/", include("events.urls")),
    path("hooks/", include("pipelines.urls")),
    path(settings.ADMIN_URL + "switchyard/enrichment/", include("enrichment.urls")),
    path(settings.ADMIN_URL + "switchyard/", include("pipelines.screens.urls")),
    path(settings.ADMIN_URL + "ops/", include("monitoring.urls")),
    # Team: invite people and give roles; an invited person sets a password from the link.
    path(settings.ADMIN_URL + "team/", admin.site.admin_view(team_view), name="team"),
    path(
        settings.ADMIN_URL + "password/set/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url="/" + settings.ADMIN_URL),
        name="password_reset_confirm",
    ),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler403 = "config.errors.permission_denied"
