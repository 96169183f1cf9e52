"""Run history: every run with its status and counts; a run's steps, file, dead letters and
records, each record traced from its source row or event to its HubSpot id."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from integrations.inbound import json_render
from pipelines.models import RecordState, RunTrigger
from pipelines.screens.access import EXPORT_PERSONAL_DATA, VIEW_RUNS, screen
from pipelines.screens.forms import RunFilterForm
from pipelines.screens.pages import keyset_page, query_without_page, render_screen
from pipelines.screens.selectors import (
    run_children,
    run_get,
    run_list,
    run_record_get,
    run_record_origin,
    run_records,
    run_records_count,
    run_reprocess_origins,
)
from pipelines.screens.services import run_input_file_open
from pipelines.selectors import run_progress

STEPS = ("stage", "transform", "dedupe", "load", "finish")
DEAD_LETTERS_SHOWN = 20


@screen(get=VIEW_RUNS)
@require_GET
def run_history(request: HttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    runs = run_list(
        workflow_id=data["workflow"].pk if data.get("workflow") else None,
        status=data.get("status", ""),
        trigger=data.get("trigger", ""),
    )
    page = keyset_page(request, runs)
    origins = run_reprocess_origins(
        run_ids=[run.pk for run in page if run.trigger == RunTrigger.REPROCESS]
    )
    for run in page:
        run.origin_runs = origins.get(run.pk, [])
    return render_screen(
        request,
        "pipelines/run_list.html",
        title="Runs",
        form=form,
        page=page,
        query=query_without_page(request),
    )


@screen(get=VIEW_RUNS)
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get(run_id=run_id)
    if run is None:
        raise Http404("No such run")
    state = request.GET.get("state", "")
    if state not in RecordState.values:
        state = ""
    timings = [(step, run.timings.get(step)) for step in STEPS if run.timings.get(step) is not None]
    return render_screen(
        request,
        "pipelines/run_detail.html",
        title=f"Run {run.pk}",
        run=run,
        timings=timings,
        crumbs=[("Runs", reverse("switchyard:runs"))],
        children=run_children(run=run),
        origin_runs=run_reprocess_origins(run_ids=[run.pk]).get(run.pk, []),
        states=RecordState.choices,
        state=state,
        dead_letters=run.dead_letters.select_related("resolved_in_run").order_by("id")[
            :DEAD_LETTERS_SHOWN
        ],
        page=keyset_page(
            request,
            run_records(run=run, state=state),
            key="position",
            newest_first=False,
            count=run_records_count(run=run, state=state),
        ),
        query=query_without_page(request),
        progress=run_progress(run_id=run.pk),
    )


@screen(get=VIEW_RUNS)
@require_GET
def run_progress_json(request: HttpRequest, run_id: int) -> JsonResponse:
    if run_get(run_id=run_id) is None:
        raise Http404("No such run")
    return JsonResponse(run_progress(run_id=run_id))


@screen(get=VIEW_RUNS)
@require_GET
def run_record_detail(request: HttpRequest, run_id: int, record_id: int) -> HttpResponse:
    run = run_get(run_id=run_id)
    record = run_record_get(run=run, record_id=record_id) if run else None
    if record is None:
        raise Http404("No such record")
    return render_screen(
        request,
        "pipelines/run_record.html",
        title=f"Run {run.pk}: {run_record_origin(record=record)}",
        run=run,
        record=record,
        origin=run_record_origin(record=record),
        crumbs=[
            ("Runs", reverse("switchyard:runs")),
            (f"Run {run.pk}", reverse("switchyard:run", args=[run.pk])),
        ],
        raw=json_render(record.raw),
        values=json_render(record.values),
        extras=json_render(record.extras),
    )


@screen(get=EXPORT_PERSONAL_DATA)
@require_GET
def run_input_file(request: HttpRequest, run_id: int) -> FileResponse:
    run = run_get(run_id=run_id)
    if run is None or not run.input_file:
        raise Http404("This run has no input file")
    try:
        handle = run_input_file_open(run=run, actor=request.user, request=request)
    except FileNotFoundError:
        raise Http404("The input file is no longer stored") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=run.input_filename or f"run-{run.pk}.csv",
        content_type="text/csv",
    )
    response["Cache-Control"] = "no-store"
    return response
