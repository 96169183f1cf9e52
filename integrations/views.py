"""OAuth connect and callback. Both need a logged-in user allowed to change connections."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from audit.services import audit_event_record
from integrations.errors import ProviderError
from integrations.models import Connection
from integrations.oauth import oauth_authorize_start, oauth_code_exchange, oauth_state_consume


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("integrations:oauth_callback"))


def _require_change(request: HttpRequest) -> None:
    if not request.user.has_perm("integrations.change_connection"):
        raise PermissionDenied


def oauth_connect(request: HttpRequest, connection_id: int) -> HttpResponse:
    _require_change(request)
    connection = get_object_or_404(Connection, pk=connection_id, provider="hubspot")
    url = oauth_authorize_start(
        connection=connection, redirect_uri=_redirect_uri(request), session=request.session
    )
    return redirect(url)


@login_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    _require_change(request)
    connection_id = oauth_state_consume(session=request.session, state=request.GET.get("state", ""))
    if connection_id is None:
        audit_event_record(action="connection.oauth_state_mismatch", request=request)
        return HttpResponseBadRequest(
            "This authorization did not start here (state mismatch). Start again from the connection page."
        )
    if "error" in request.GET:
        messages.error(request, f"HubSpot did not authorize the app: {request.GET.get('error')}")
        return redirect(reverse("admin:integrations_connection_change", args=[connection_id]))
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest("HubSpot sent no authorization code.")
    try:
        connection = oauth_code_exchange(
            connection_id=connection_id,
            code=code,
            redirect_uri=_redirect_uri(request),
            actor=request.user,
            request=request,
        )
    except ProviderError as exc:
        messages.error(request, f"HubSpot refused the authorization code: {exc.message}")
    else:
        messages.success(request, f"{connection.name} is connected to HubSpot.")
    return redirect(reverse("admin:integrations_connection_change", args=[connection_id]))
