"""CSV import wizard: upload → detection and column matching → dry-run preview → confirm →
the run page, whose progress bar polls until the run has finished."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pipelines.csv_files import CsvRefused
from pipelines.models import Workflow
from pipelines.screens.access import IMPORT_CSV, screen
from pipelines.screens.forms import ImportColumnsForm, ImportConfirmForm, ImportUploadForm
from pipelines.screens.pages import render_screen
from pipelines.screens.selectors import hubspot_property_catalog
from pipelines.screens.services import (
    MappingRejected,
    PendingImport,
    import_columns_apply,
    import_confirm,
    import_discard,
    import_preview_again,
    import_upload_create,
)
from pipelines.selectors import field_mapping_current

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
            "check_destination": form.cleaned_data["check_destination"],
        }
        request.session[SESSION_KEY] = waiting
        return _preview_page(request, workflow=workflow, pending=pending, token=token)
    return render_screen(
        request,
        "pipelines/import_upload.html",
        title="Import a CSV",
        form=form,
        status=400 if request.method == "POST" else 200,
    )


def _columns_form(
    *, workflow: Workflow, pending: PendingImport, token: str, data: Any = None
) -> ImportColumnsForm:
    rules = field_mapping_current(workflow=workflow).rules
    if pending.preview is not None:
        headers, matched = pending.preview.headers, pending.preview.matched
    else:
        headers, matched = pending.missing.headers, pending.missing.columns.matched
    sources = list(dict.fromkeys(str(r["from"]) for r in rules))
    return ImportColumnsForm(
        data,
        initial={"token": token},
        sources=sources,
        required={str(r["from"]) for r in rules if r.get("required")},
        headers=headers,
        matched=matched,
        unmapped=[h for h in headers if h not in set(matched.values())],
        properties=[],
    )


def _preview_page(
    request: HttpRequest,
    *,
    workflow: Workflow,
    pending: PendingImport,
    token: str,
    columns_form: ImportColumnsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render_screen(
        request,
        "pipelines/import_preview.html",
        title=f"Preview: {pending.filename}",
        crumbs=[("Import a CSV", reverse("switchyard:import"))],
        workflow=workflow,
        filename=pending.filename,
        preview=pending.preview,
        missing=pending.missing,
        columns_form=columns_form or _columns_form(workflow=workflow, pending=pending, token=token),
        catalog=hubspot_property_catalog(workflow=workflow),
        confirm_form=ImportConfirmForm(initial={"token": token}),
        status=status,
    )


@screen(get=IMPORT_CSV)
@require_POST
def import_columns(request: HttpRequest) -> HttpResponse:
    """The admin picked the file's columns: remember them in the mapping (a new version, for
    this and every later import of the workflow) and preview the kept upload again."""
    token = request.POST.get("token", "")
    entry = request.session.get(SESSION_KEY, {}).get(token)
    if entry is None:
        return render_screen(
            request,
            "pipelines/import_upload.html",
            title="Import a CSV",
            form=ImportUploadForm(),
            refusal="This upload has expired or was already imported; upload the file again.",
            status=400,
        )
    workflow = Workflow.objects.get(pk=entry["workflow"])
    again = {
        "workflow": workflow,
        "path": entry["path"],
        "filename": entry["filename"],
        "check_destination": entry.get("check_destination", False),
    }
    pending = import_preview_again(**again)
    form = _columns_form(workflow=workflow, pending=pending, token=token, data=request.POST)
    if not form.is_valid():
        return _preview_page(
            request, workflow=workflow, pending=pending, token=token, columns_form=form, status=400
        )
    try:
        saved = import_columns_apply(
            workflow=workflow, picks=form.picks(), extras=form.extras(), actor=request.user
        )
    except MappingRejected as rejected:
        for problem in rejected.problems:
            form.add_error(None, problem)
        return _preview_page(
            request, workflow=workflow, pending=pending, token=token, columns_form=form, status=400
        )
    if saved.created:
        messages.success(
            request,
            f"Columns remembered in field mapping version {saved.version.version}: "
            "later imports of this workflow match them the same way.",
        )
    pending = import_preview_again(**again)
    return _preview_page(request, workflow=workflow, pending=pending, token=token)


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
