"""Quality screens: QA sampling (draw a random sample of synced records, mark each correct or
not, see the accuracy with its interval) and the portal snapshots with their worst offenders.
Permission-checked like every custom screen."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from audit.services import audit_event_record
from integrations.models import Connection, Provider
from pipelines.models import Workflow
from pipelines.screens.access import screen
from pipelines.screens.pages import render_screen
from quality.metrics import sample_size
from quality.models import PortalSnapshot, QASample, QAVerdict
from quality.qa import qa_population, qa_sample_draw, qa_sample_review
from quality.snapshots import OBJECT_TYPES, portal_offenders_csv
from quality.tasks import portal_snapshot_take_task

VIEW_QA = "quality.view_qasample"
DRAW_QA = "quality.add_qasample"
REVIEW_QA = "quality.change_qasampleitem"
# Properties shown for each record under review, when present; the rest sit behind "more".
SHOWN = ("email", "firstname", "lastname", "company", "jobtitle", "phone", "country", "website")


class DrawForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("slug"))
    size = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (30, "30 records — quick look (about ±18 %)"),
            (50, "50 records — about ±14 %"),
            (97, "97 records — ±10 %"),
            (385, "385 records — ±5 %"),
        ],
        initial=50,
        help_text="Margins at 95 % confidence for an accuracy near 50 %; smaller near 100 %.",
    )


@screen(get=VIEW_QA, post=DRAW_QA)
@require_http_methods(["GET", "POST"])
def qa_samples(request: HttpRequest) -> HttpResponse:
    form = DrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workflow = form.cleaned_data["workflow"]
        try:
            sample = qa_sample_draw(
                workflow=workflow, size=form.cleaned_data["size"], user=request.user
            )
        except ValueError as exc:
            form.add_error("workflow", str(exc))
        else:
            return redirect("ops:qa-sample", sample_id=sample.pk)
    samples = QASample.objects.select_related("workflow")[:50]
    return render_screen(
        request,
        "quality/qa_samples.html",
        title="Accuracy: QA samples",
        form=form,
        samples=samples,
        status=400 if request.method == "POST" else 200,
    )


@screen(get=VIEW_QA, post=REVIEW_QA)
@require_http_methods(["GET", "POST"])
def qa_sample_detail(request: HttpRequest, sample_id: int) -> HttpResponse:
    sample = QASample.objects.select_related("workflow").filter(pk=sample_id).first()
    if sample is None:
        raise Http404("No such sample")
    if request.method == "POST":
        verdicts = {}
        for key, value in request.POST.items():
            if key.startswith("item-") and key[5:].isdigit() and value in QAVerdict.values:
                verdicts[int(key[5:])] = value
        sample = qa_sample_review(sample=sample, verdicts=verdicts, user=request.user)
        messages.success(request, f"{len(verdicts)} verdict(s) saved.")
        return redirect("ops:qa-sample", sample_id=sample.pk)
    items = []
    for item in sample.items.select_related("record"):
        values = item.record.values if item.record else {}
        shown = [(k, values[k]) for k in SHOWN if values.get(k) not in (None, "")]
        items.append({"item": item, "shown": shown, "purged": item.record is None})
    return render_screen(
        request,
        "quality/qa_sample.html",
        title=f"QA sample {sample.pk}: {sample.workflow.slug}",
        sample=sample,
        items=items,
        can_review=request.user.has_perm(REVIEW_QA),
        for_5_percent=sample_size(0.05, len(qa_population(workflow=sample.workflow)) or None),
    )


# --- portal snapshots --------------------------------------------------------------------------

VIEW_SNAPSHOTS = "quality.view_portalsnapshot"
TAKE_SNAPSHOTS = "quality.add_portalsnapshot"


@screen(get=VIEW_SNAPSHOTS, post=TAKE_SNAPSHOTS)
@require_http_methods(["GET", "POST"])
def portal_snapshots(request: HttpRequest) -> HttpResponse:
    connections = Connection.objects.filter(provider=Provider.HUBSPOT).order_by("name")
    if request.method == "POST":
        connection = connections.filter(pk=request.POST.get("connection") or 0).first()
        object_type = request.POST.get("object_type")
        if connection is None or object_type not in OBJECT_TYPES:
            return HttpResponseBadRequest("choose a HubSpot connection and contacts or companies")
        transaction.on_commit(lambda: portal_snapshot_take_task.delay(connection.pk, object_type))
        audit_event_record(
            action="portal_snapshot.requested",
            actor=request.user,
            obj=connection,
            metadata={"object_type": object_type},
            request=request,
        )
        messages.success(request, f"A {object_type} snapshot of {connection.name} was started.")
        return redirect("ops:snapshots")
    latest = []
    for connection in connections:
        for object_type in OBJECT_TYPES:
            snapshot = (
                PortalSnapshot.objects.filter(connection=connection, object_type=object_type)
                .order_by("-started_at")
                .first()
            )
            latest.append(
                {"connection": connection, "object_type": object_type, "snapshot": snapshot}
            )
    return render_screen(
        request,
        "quality/snapshots.html",
        title="Portal data quality",
        latest=latest,
        can_take=request.user.has_perm(TAKE_SNAPSHOTS),
    )


@screen(get=VIEW_SNAPSHOTS)
@require_GET
def portal_offenders_export(
    request: HttpRequest, connection_id: int, object_type: str
) -> HttpResponse:
    connection = Connection.objects.filter(pk=connection_id, provider=Provider.HUBSPOT).first()
    if connection is None or object_type not in OBJECT_TYPES:
        raise Http404("No such portal or object type")
    audit_event_record(
        action="portal_offenders.exported",
        actor=request.user,
        obj=connection,
        metadata={"object_type": object_type},
        request=request,
    )
    response = StreamingHttpResponse(
        portal_offenders_csv(connection=connection, object_type=object_type),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{connection.name}-{object_type}-offenders.csv"'
    )
    return response
