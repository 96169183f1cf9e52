from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("<str:kind>/<slug:connection>/", views.event_inbound, name="inbound"),
]
