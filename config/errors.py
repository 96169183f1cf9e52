"""The admin's own pages outside any app: error pages inside the admin's layout: a refused request says, in words, which permission
was missing and offers a way back, instead of a bare "403 Forbidden"."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.auth.models import Permission
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme

_PERMISSION = re.compile(r"\b([a-z_]+)\.([a-z_]+)\b")


def permission_in_words(message: str) -> str:
    """ "pipelines.import_csv required" → "Can import CSV files into a workflow"; other
    messages are returned as they are (they are written for people already)."""
    found = _PERMISSION.search(message or "")
    if found:
        permission = Permission.objects.filter(
            content_type__app_label=found.group(1), codename=found.group(2)
        ).first()
        if permission is not None:
            return permission.name
    return message


def _safe_back(request: HttpRequest) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    allowed = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if allowed else ""


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception or "")
    context = {
        **(admin.site.each_context(request) if request.user.is_authenticated else {}),
        "title": "You cannot do this",
        "missing": permission_in_words(message),
        "back": _safe_back(request),
    }
    response = TemplateResponse(request, "403.html", context, status=403)
    return response.render()


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the static icon
    (resolved per request: the hashed name exists only after collectstatic)."""
    return HttpResponsePermanentRedirect(static("switchyard/favicon.svg"))
