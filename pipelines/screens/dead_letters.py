"""Dead-letter review: filter, read the error beside the payload, fix and reprocess (one, a
selection, or every open letter of a filter), ignore with a reason, export as CSV.

Reprocessing is the core's dead_letter_reprocess: a new run linked to the old one, and each
letter remembers which run resolved it. An event delivery's letter is redelivered through
the event hub instead (pipelines/dead_letter_kinds.py). The core services audit every action.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from integrations.inbound import json_render
from pipelines.dead_letter_kinds import LetterKind, letter_kind
from pipelines.dead_letter_reasons import (
    category_label,
    failed_values,
    fix_for,
    source_columns,
)
from pipelines.models import DeadLetter
from pipelines.screens.access import (
    EDIT_DEAD_LETTERS,
    EXPORT_PERSONAL_DATA,
    REPROCESS_DEAD_LETTERS,
    VIEW_DEAD_LETTERS,
    screen,
)
from pipelines.screens.forms import (
    DeadLetterBulkForm,
    DeadLetterFilterForm,
    DeadLetterIgnoreForm,
    DeadLetterPayloadForm,
)
from pipelines.screens.pages import keyset_page, query_without_page, render_screen
from pipelines.screens.selectors import (
    DeadLetterFilters,
    dead_letter_categories,
    dead_letter_editable_properties,
    dead_letter_get,
    dead_letter_groups,
    dead_letter_list_page,
    dead_letter_origins,
)
from pipelines.screens.services import (
    dead_letters_export,
    dead_letters_reprocess_matching,
    dead_letters_send_again,
)
from pipelines.services.dead_letters import (
    dead_letter_edit,
    dead_letter_ignore,
    dead_letter_reprocess,
)


def _require_reprocess(request: HttpRequest) -> None:
    if not request.user.has_perm(REPROCESS_DEAD_LETTERS):
        raise PermissionDenied(f"{REPROCESS_DEAD_LETTERS} required")


@screen(get=VIEW_DEAD_LETTERS, post=EDIT_DEAD_LETTERS)
@require_http_methods(["GET", "POST"])
def dead_letter_queue(request: HttpRequest) -> HttpResponse:
    filter_form = DeadLetterFilterForm(request.GET or None, categories=dead_letter_categories())
    filters = filter_form.filters()
    bulk_form = DeadLetterBulkForm(request.POST or None)
    if request.method == "POST":
        if bulk_form.is_valid():
            return _bulk_action(request, bulk_form, filters)
        for error in bulk_form.non_field_errors():
            messages.error(request, error)
        return redirect(f"{reverse('switchyard:dead-letters')}?{request.GET.urlencode()}")
    page = keyset_page(request, dead_letter_list_page(filters=filters))
    for letter in page:
        letter.category_label = category_label(letter.category)
    dead_letter_origins(letters=list(page))
    return render_screen(
        request,
        "pipelines/dead_letter_list.html",
        title="Dead letters",
        filter_form=filter_form,
        page=page,
        groups=dead_letter_groups(filters=filters) if filters.status != "resolved" else [],
        query=query_without_page(request),
        filter_query=request.GET.urlencode(),
        filters=filters,
    )


def _bulk_action(
    request: HttpRequest, form: DeadLetterBulkForm, filters: DeadLetterFilters
) -> HttpResponse:
    action = form.cleaned_data["action"]
    back = f"{reverse('switchyard:dead-letters')}?{request.GET.urlencode()}"
    try:
        if action == "ignore":
            count = dead_letter_ignore(
                dead_letter_ids=form.cleaned_data["ids"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
            messages.success(request, f"{count} dead letter(s) ignored.")
            return redirect(back)
        _require_reprocess(request)
        if action == "reprocess":
            sent = dead_letters_send_again(
                dead_letter_ids=form.cleaned_data["ids"], actor=request.user
            )
        else:
            sent = dead_letters_reprocess_matching(filters=filters, actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    runs = sent.runs
    if sent.redelivered:
        messages.success(request, f"{sent.redelivered} {sent.noun}(s) put back for delivery.")
    if not runs:
        if not sent.redelivered:
            messages.warning(request, "No open dead letters match this filter.")
        return redirect(back)
    if len(runs) == 1 and not sent.redelivered:
        messages.success(request, f"Reprocessing in run {runs[0].pk}.")
        return redirect("switchyard:run", run_id=runs[0].pk)
    messages.success(request, "Reprocessing in runs " + ", ".join(str(r.pk) for r in runs) + ".")
    return redirect(back)


@screen(get=VIEW_DEAD_LETTERS, post=EDIT_DEAD_LETTERS)
@require_http_methods(["GET", "POST"])
def dead_letter_detail(request: HttpRequest, dead_letter_id: int) -> HttpResponse:
    letter = dead_letter_get(dead_letter_id=dead_letter_id)
    if letter is None:
        raise Http404("No such dead letter")
    kind = letter_kind(letter.stage)
    if kind is not None:
        return _kind_letter_detail(request, letter, kind)
    properties = dead_letter_editable_properties(dead_letter=letter)
    is_post = request.method == "POST"
    action = request.POST.get("action", "")
    payload_form = DeadLetterPayloadForm(
        request.POST if is_post and action != "ignore" else None,
        properties=properties,
        payload=letter.payload,
    )
    ignore_form = DeadLetterIgnoreForm(request.POST if is_post and action == "ignore" else None)
    error = ""
    if is_post:
        try:
            if action == "ignore" and ignore_form.is_valid():
                return _letter_ignore(request, letter, reason=ignore_form.cleaned_data["reason"])
            if action in ("save", "reprocess") and payload_form.is_valid():
                payload = payload_form.payload()
                if action == "save":
                    dead_letter_edit(dead_letter_id=letter.pk, payload=payload, actor=request.user)
                    messages.success(request, "Payload saved. Reprocess it when ready.")
                    return redirect("switchyard:dead-letter", dead_letter_id=letter.pk)
                _require_reprocess(request)
                overrides = {letter.pk: payload} if payload != letter.payload else None
                run = dead_letter_reprocess(
                    dead_letter_ids=[letter.pk], actor=request.user, payload_overrides=overrides
                )
                messages.success(request, f"Reprocessing dead letter {letter.pk} in run {run.pk}.")
                return redirect("switchyard:run", run_id=run.pk)
        except ValueError as exc:
            error = str(exc)
    version = letter.run.mapping_version
    raw = letter.source_row or {}
    failed = failed_values(
        errors=letter.record.errors or [],
        raw=raw,
        columns=source_columns(raw=raw, rules=version.rules) if version else None,
    )
    for name in properties:
        field = payload_form.fields[f"p_{name}"]
        if name in failed:
            field.help_text = f"Failed value: “{failed[name]['value']}” ({failed[name]['message']})"
            field.widget.attrs["data-failed-value"] = failed[name]["value"]
    return render_screen(
        request,
        "pipelines/dead_letter_detail.html",
        failed=failed,
        **_letter_review(letter, payload_form=payload_form, ignore_form=ignore_form, error=error),
    )


def _letter_ignore(request: HttpRequest, letter: DeadLetter, *, reason: str) -> HttpResponse:
    dead_letter_ignore(dead_letter_ids=[letter.pk], reason=reason, actor=request.user)
    messages.success(request, f"Dead letter {letter.pk} ignored.")
    return redirect("switchyard:dead-letter", dead_letter_id=letter.pk)


def _letter_review(letter: DeadLetter, *, payload_form: Any, ignore_form: Any, error: str) -> dict:
    """What every letter's page shows, whichever app's letter it is."""
    return {
        "title": f"Dead letter {letter.pk}",
        "letter": letter,
        "category_label": category_label(letter.category),
        "fix": fix_for(category=letter.category, reason=letter.reason),
        "crumbs": [("Dead letters", reverse("switchyard:dead-letters"))],
        "payload_form": payload_form,
        "ignore_form": ignore_form,
        "error": error,
        "status": 400 if error else 200,
        "source_row": json_render(letter.source_row),
        "payload_json": json_render(letter.payload),
        "original_json": json_render(letter.original_payload)
        if letter.original_payload is not None
        else "",
    }


def _kind_letter_detail(request: HttpRequest, letter: DeadLetter, kind: LetterKind) -> HttpResponse:
    """Another app's letter (an event delivery's): the same review, one box per payload
    field (dotted names for nested ones, plus a field to add), and Redeliver instead of
    Reprocess: it goes out again through that app's own path (the delivery's, same
    idempotency key), not through a run."""
    fields = kind.fields(letter)
    is_post = request.method == "POST"
    action = request.POST.get("action", "")
    payload_form = DeadLetterPayloadForm(
        request.POST if is_post and action != "ignore" else None,
        properties=list(fields),
        payload=fields,
        allow_new=True,
    )
    ignore_form = DeadLetterIgnoreForm(request.POST if is_post and action == "ignore" else None)
    error = ""
    here = redirect("switchyard:dead-letter", dead_letter_id=letter.pk)
    if is_post:
        try:
            if action == "ignore" and ignore_form.is_valid():
                return _letter_ignore(request, letter, reason=ignore_form.cleaned_data["reason"])
            if action in ("save", "redeliver") and payload_form.is_valid():
                payload = payload_form.payload()
                if action == "redeliver":
                    _require_reprocess(request)
                shown = {
                    name[2:]: str(field.initial).strip()
                    for name, field in payload_form.fields.items()
                    if name.startswith("p_") and str(field.initial).strip()
                }
                if payload != shown:
                    kind.edit(dead_letter_id=letter.pk, payload=payload, actor=request.user)
                if action == "save":
                    messages.success(request, "Payload saved. Redeliver it when ready.")
                    return here
                count = kind.redeliver(dead_letter_ids=[letter.pk], actor=request.user)
                messages.success(
                    request,
                    f"Dead letter {letter.pk}: {kind.noun} put back for delivery."
                    if count
                    else f"Dead letter {letter.pk} was not redelivered (no longer open).",
                )
                return here
        except ValueError as exc:
            error = str(exc)
    origin = kind.origins([letter]).get(letter.pk)
    return render_screen(
        request,
        "pipelines/dead_letter_delivery.html",
        kind=kind,
        origin=origin,
        **_letter_review(letter, payload_form=payload_form, ignore_form=ignore_form, error=error),
    )


@screen(get=EXPORT_PERSONAL_DATA)
@require_GET
def dead_letter_export(request: HttpRequest) -> StreamingHttpResponse:
    filters = DeadLetterFilterForm(
        request.GET or None, categories=dead_letter_categories()
    ).filters()
    lines = dead_letters_export(filters=filters, actor=request.user, request=request)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="dead-letters-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
