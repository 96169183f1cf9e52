"""CSV import wizard: upload → detection and column matching → dry-run preview → confirm →
the run page, whose progress bar polls until the run has finished."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pipelines.csv_files import CsvRefused
from pipelines.models import Workflow
from pipelines.screens.access import IMPORT_CSV, screen
from pipelines.screens.forms import ImportConfirmForm, ImportUploadForm
from pipelines.screens.pages import render_screen
from pipelines.screens.services import import_confirm, import_discard, import_upload_create

# Uploads waiting for confirmation live in the session: the stored path never reaches the
# browser, which only holds an opaque token.
SESSION_KEY = "switchyard_pending_imports"


@screen(get=IMPORT_CSV)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        workflow = form.cleaned_data["workflow"]
        try:
            pending = import_upload_create(
                workflow=workflow,
                file=upload,
                filename=upload.name,
                check_destination=form.cleaned_data["check_destination"],
                actor=request.user,
                request=request,
            )
        except CsvRefused as refused:
            return render_screen(
                request,
                "pipelines/import_upload.html",
                title="Import a CSV",
                form=form,
                refusal=refused.message,
                status=400,
            )
        token = uuid.uuid4().hex
        waiting = request.session.get(SESSION_KEY, {})
        waiting[token] = {
            "path": pending.path,
            "filename": pending.filename,
            "workflow": workflow.pk,
        }
        request.session[SESSION_KEY] = waiting
        return render_screen(
            request,
            "pipelines/import_preview.html",
            title=f"Preview: {pending.filename}",
            crumbs=[("Import a CSV", reverse("switchyard:import"))],
            workflow=workflow,
            filename=pending.filename,
            preview=pending.preview,
            confirm_form=ImportConfirmForm(initial={"token": token}),
        )
    return render_screen(
        request,
        "pipelines/import_upload.html",
        title="Import a CSV",
        form=form,
        status=400 if request.method == "POST" else 200,
    )


@screen(get=IMPORT_CSV)
@require_POST
def import_start(request: HttpRequest) -> HttpResponse:
    form = ImportConfirmForm(request.POST)
    waiting = request.session.get(SESSION_KEY, {})
    entry = waiting.pop(form.data.get("token", ""), None) if form.is_valid() else None
    if entry is None:
        return render_screen(
            request,
            "pipelines/import_upload.html",
            title="Import a CSV",
            form=ImportUploadForm(),
            refusal="This upload has expired or was already imported; upload the file again.",
            status=400,
        )
    request.session[SESSION_KEY] = waiting
    workflow = Workflow.objects.get(pk=entry["workflow"])
    if request.POST.get("cancel"):
        import_discard(path=entry["path"])
        return redirect("switchyard:import")
    try:
        run = import_confirm(
            workflow=workflow, path=entry["path"], filename=entry["filename"], actor=request.user
        )
    except (CsvRefused, ValueError) as refused:
        message = refused.message if isinstance(refused, CsvRefused) else str(refused)
        return render_screen(
            request,
            "pipelines/import_upload.html",
            title="Import a CSV",
            form=ImportUploadForm(),
            refusal=message,
            status=400,
        )
    return redirect(reverse("switchyard:run", args=[run.pk]))
