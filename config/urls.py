from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import health
from config.errors import favicon

admin.site.site_header = "Switchyard"
admin.site.site_title = "Switchyard"
admin.site.index_title = "RevOps data hub"
# "View site" leads to the product's home (the admin index), not a DEBUG 404 of every URL.
admin.site.site_url = "/" + settings.ADMIN_URL

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("readyz", health.readyz, name="readyz"),
    path("integrations/", include("integrations.urls")),
    path("hooks/", include("pipelines.urls")),
    path(settings.ADMIN_URL + "switchyard/", include("pipelines.screens.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler403 = "config.errors.permission_denied"
