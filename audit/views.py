"""The audit viewer inside the admin: filtered list, detail with the diff, CSV/JSON export.

Each view checks its permission itself (PermissionDenied → 403, recorded by the middleware)
rather than relying on the menu hiding a link: least privilege at the URL, ASVS 4.1.1.
The admin site wrapper (`admin_site.admin_view`) adds login, staff check and CSRF.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from audit.csv_safety import csv_safe_row
from audit.forms import AuditFilterForm
from audit.models import AuditEvent
from audit.selectors import (
    audit_actions,
    audit_event_iter_export,
    audit_event_page,
    audit_event_queryset,
)
from audit.services import audit_event_record

EXPORT_COLUMNS = (
    "id",
    "created_at",
    "actor_label",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "metadata",
    "ip_address",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
)


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def _context(model_admin, request: HttpRequest, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **extra,
    }


def event_list_view(request: HttpRequest, model_admin) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied("audit.view_auditevent required")
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else AuditFilterForm().filters()
    page = audit_event_page(
        filters=filters, before=_int_param(request, "before"), after=_int_param(request, "after")
    )
    query = request.GET.copy()
    for key in ("before", "after", "format"):
        query.pop(key, None)
    context = _context(
        model_admin,
        request,
        "Audit log",
        form=form,
        page=page,
        filter_query=query.urlencode(),
        can_export=request.user.has_perm("audit.export_auditevent"),
        actions=audit_actions(),
    )
    return TemplateResponse(request, "audit/event_list.html", context)


def event_detail_view(request: HttpRequest, model_admin, object_id: str) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied("audit.view_auditevent required")
    event = AuditEvent.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
    if event is None:
        raise Http404("No such audit event")
    diff_rows = [
        {
            "field": field,
            "old": values[0] if isinstance(values, list) and values else values,
            "new": values[1] if isinstance(values, list) and len(values) > 1 else "",
        }
        for field, values in (event.changes or {}).items()
    ]
    context = _context(
        model_admin,
        request,
        f"Audit event {event.pk}",
        event=event,
        diff_rows=diff_rows,
        metadata_json=json.dumps(event.metadata, indent=2, ensure_ascii=False),
    )
    return TemplateResponse(request, "audit/event_detail.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _row(event: AuditEvent) -> list:
    return [
        event.id,
        event.created_at.isoformat(),
        event.actor_label,
        event.actor_id,
        event.action,
        event.object_type,
        event.object_id,
        event.object_repr,
        event.changes,
        event.metadata,
        event.ip_address,
        event.user_agent,
        event.request_id,
        event.prev_hash,
        event.hash,
    ]


def _csv_stream(events: Iterator[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for event in events:
        yield writer.writerow(csv_safe_row(_row(event)))


def _json_stream(events: Iterator[AuditEvent]) -> Iterator[str]:
    yield "[\n"
    first = True
    for event in events:
        item = dict(zip(EXPORT_COLUMNS, _row(event), strict=True))
        yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"


def event_export_view(request: HttpRequest, model_admin) -> HttpResponse:
    if not request.user.has_perm("audit.export_auditevent"):
        raise PermissionDenied("audit.export_auditevent required")
    fmt = request.GET.get("format", "csv")
    if fmt not in {"csv", "json"}:
        return HttpResponse("format must be csv or json", status=400, content_type="text/plain")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            f"Invalid filters: {form.errors.as_text()}", status=400, content_type="text/plain"
        )
    filters = form.filters()
    # The export is itself evidence: who took which part of the log, and how much of it.
    audit_event_record(
        action="audit.exported",
        request=request,
        object_type="audit.auditevent",
        metadata={
            "format": fmt,
            "filters": filters.as_dict(),
            "rows": audit_event_queryset(filters=filters).count(),
        },
    )
    events = audit_event_iter_export(filters=filters)
    stream, content_type = (
        (_csv_stream(events), "text/csv")
        if fmt == "csv"
        else (_json_stream(events), "application/json")
    )
    response = StreamingHttpResponse(stream, content_type=f"{content_type}; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
