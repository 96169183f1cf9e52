from django.urls import path

from pipelines import views
from pipelines.routing import views as routing_views

app_name = "pipelines"

urlpatterns = [
    path("clay/<slug:slug>/", views.clay_webhook, name="clay-webhook"),
    path("hubspot/<slug:slug>/", routing_views.hubspot_webhook, name="hubspot-webhook"),
]
