"""The "Why isn't this syncing?" page: a workflow's figures and the troubleshooting checks."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.services import audit_event_record
from monitoring.diagnose import workflow_diagnose
from monitoring.figures import workflow_figures
from pipelines.models import Workflow
from pipelines.screens.access import VIEW_RUNS, screen
from pipelines.screens.pages import render_screen


@screen(get=VIEW_RUNS)
@require_GET
def workflow_diagnose_page(request: HttpRequest, slug: str) -> HttpResponse:
    workflow = Workflow.objects.select_related("destination_connection").filter(slug=slug).first()
    if workflow is None:
        raise Http404("No such workflow")
    now = timezone.now()
    result = workflow_diagnose(workflow=workflow, now=now)
    audit_event_record(
        action="workflow.diagnosed",
        actor=request.user,
        obj=workflow,
        metadata={"failed": [c["name"] for c in result["checks"] if not c["ok"]]},
        request=request,
    )
    return render_screen(
        request,
        "monitoring/diagnose.html",
        title=f"Why isn't {workflow.slug} syncing?",
        workflow=workflow,
        checks=result["checks"],
        figures=workflow_figures(workflow=workflow, now=now),
    )
