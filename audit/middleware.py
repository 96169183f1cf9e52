"""Every refused access becomes an audit event (ASVS 7.2.2, SOC 2 CC6.1).

`process_exception` sees PermissionDenied raised by any view (admin or custom); `__call__`
catches the 403 responses produced without an exception (CSRF failures, views returning
HttpResponseForbidden). One event per request either way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from audit.services import audit_event_record

_RECORDED = "_audit_denial_recorded"


def _anonymous_record(**fields) -> None:
    from audit.aggregate import audit_unauthenticated_record

    audit_unauthenticated_record(source="anonymous", **fields)


def _record(request: HttpRequest, reason: str) -> None:
    if getattr(request, _RECORDED, False):
        return
    setattr(request, _RECORDED, True)
    match = getattr(request, "resolver_match", None)
    known = bool(getattr(request, "user", None) and request.user.is_authenticated)
    # Anonymous refusals (a login post without its CSRF token...) are aggregated per source
    # and window: nobody unauthenticated can grow the log one event per request.
    record = audit_event_record if known else _anonymous_record
    record(
        action="access.denied",
        request=request,
        actor_label="" if known else "anonymous",
        object_type="url",
        object_id=(match.view_name if match else "")[:100],
        object_repr=request.path[:200],
        # The path only: query strings may carry search terms or personal data.
        metadata={"method": request.method, "path": request.path[:300], "reason": reason[:200]},
    )


class PermissionDeniedAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            _record(request, "403 response")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            _record(
                request, f"PermissionDenied: {exception}" if str(exception) else "PermissionDenied"
            )
        return None
