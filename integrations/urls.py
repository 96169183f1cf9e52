from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("oauth/hubspot/callback", views.oauth_callback, name="oauth_callback"),
]
