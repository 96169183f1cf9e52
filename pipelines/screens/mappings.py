"""Field-mapping editor: rows of source column → HubSpot property, a transform chain and a
required flag; a preview on the last import's rows; saving makes a new version."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pipelines.screens.access import EDIT_MAPPINGS, VIEW_MAPPINGS, screen
from pipelines.screens.forms import MappingNoteForm, MappingRuleFormSet, mapping_rule_initial
from pipelines.screens.pages import render_screen
from pipelines.screens.selectors import (
    field_mapping_versions,
    hubspot_property_catalog,
    transform_catalog,
    workflows_for_screens,
)
from pipelines.screens.services import MappingRejected, field_mapping_preview, field_mapping_save
from pipelines.screens.transform_chains import PARAM_FIELDS, ChainTextError, chain_from_text
from pipelines.selectors import field_mapping_current


def _workflow(workflow_id: int):
    workflow = workflows_for_screens().filter(pk=workflow_id).first()
    if workflow is None:
        raise Http404("No such workflow")
    return workflow


@screen(get=VIEW_MAPPINGS)
@require_GET
def mapping_index(request: HttpRequest) -> HttpResponse:
    rows = [
        (workflow, field_mapping_current(workflow=workflow)) for workflow in workflows_for_screens()
    ]
    return render_screen(request, "pipelines/mapping_list.html", title="Field mappings", rows=rows)


@screen(get=VIEW_MAPPINGS, post=EDIT_MAPPINGS)
@require_http_methods(["GET", "POST"])
def mapping_edit(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(workflow_id)
    current = field_mapping_current(workflow=workflow)
    initial = mapping_rule_initial(current.rules if current else [])
    formset = MappingRuleFormSet(request.POST or None, initial=initial, prefix="rules")
    note_form = MappingNoteForm(request.POST or None)
    problems: list[str] = []
    if request.method == "POST" and formset.is_valid() and note_form.is_valid():
        try:
            saved = field_mapping_save(
                workflow=workflow,
                rules=formset.rules(),
                note=note_form.cleaned_data["note"],
                actor=request.user,
            )
        except MappingRejected as rejected:
            problems = rejected.problems
        else:
            for warning in saved.warnings:
                messages.warning(request, warning)
            if saved.created:
                messages.success(
                    request, f"Saved as version {saved.version.version}. New runs use it."
                )
            else:
                messages.info(
                    request, "Nothing changed: the mapping is the same as the current version."
                )
            return redirect("switchyard:mapping", workflow_id=workflow.pk)
    catalog = hubspot_property_catalog(workflow=workflow)
    for form in formset.forms:
        _chain_attach(form)
    return render_screen(
        request,
        "pipelines/mapping_edit.html",
        title=f"Field mapping: {workflow.slug}",
        workflow=workflow,
        crumbs=[("Field mappings", reverse("switchyard:mappings"))],
        current=current,
        versions=field_mapping_versions(workflow=workflow),
        formset=formset,
        readonly_rules=initial,
        note_form=note_form,
        problems=problems,
        catalog=catalog,
        transforms=transform_catalog(),
        transform_forms={
            "transforms": [
                {"name": t["name"], "description": t["description"]} for t in transform_catalog()
            ],
            "fields": PARAM_FIELDS,
        },
        status=400 if problems else 200,
    )


def _chain_attach(form) -> None:
    """Hand the row's chain to the step editor (transform_chain.js) as data; a chain that
    cannot be read is left as text, with its error, for the person to correct."""
    try:
        chain = chain_from_text(form["transforms"].value() or "")
    except ChainTextError:
        return
    form.fields["transforms"].widget.attrs["data-chain"] = json.dumps(chain, ensure_ascii=False)


@screen(get=EDIT_MAPPINGS)
@require_POST
def mapping_preview(request: HttpRequest, workflow_id: int) -> JsonResponse:
    """The posted (unsaved) rows applied to sample rows of the last import. Writes nothing."""
    workflow = _workflow(workflow_id)
    formset = MappingRuleFormSet(request.POST, prefix="rules")
    if not formset.is_valid():
        problems = [
            f"Row {n}: {field}: {' '.join(errors)}"
            for n, form in enumerate(formset.forms, start=1)
            for field, errors in form.errors.items()
        ]
        return JsonResponse(
            {
                "ok": False,
                "problems": problems or ["The rows could not be read."],
                "columns": [],
                "rows": [],
            },
            status=400,
        )
    return JsonResponse(field_mapping_preview(workflow=workflow, rules=formset.rules()))
