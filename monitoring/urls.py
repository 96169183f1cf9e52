"""Operations screens, mounted under ADMIN_URL + "ops/" (config/urls.py)."""

from django.urls import path

from monitoring import views
from quality import views as quality_views

app_name = "ops"

urlpatterns = [
    path("workflows/<slug:slug>/diagnose/", views.workflow_diagnose_page, name="diagnose"),
    path("quality/portal/", quality_views.portal_snapshots, name="snapshots"),
    path(
        "quality/portal/<int:connection_id>/<str:object_type>/offenders.csv",
        quality_views.portal_offenders_export,
        name="snapshot-offenders",
    ),
    path("quality/qa/", quality_views.qa_samples, name="qa-samples"),
    path("quality/qa/<int:sample_id>/", quality_views.qa_sample_detail, name="qa-sample"),
]
