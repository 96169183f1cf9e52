from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("callback/<str:token>/", views.execution_callback, name="callback"),
    path("<str:kind>/<slug:connection>/", views.event_inbound, name="inbound"),
]
