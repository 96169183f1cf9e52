"""Privacy request pages in the admin: erase a person, download what we hold about them.

Both take the email by POST (never in the URL, which proxies and access logs keep) and check
their permission themselves: erasure needs `audit.perform_privacy_request`, the access export
`audit.export_personal_data`.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from audit.forms import AccessExportForm, ErasureForm
from audit.privacy import privacy_access_export, privacy_access_export_csv, privacy_erasure_perform


def _context(model_admin, request: HttpRequest, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **extra,
    }


@sensitive_post_parameters("email", "email_again")
@never_cache
def erasure_view(request: HttpRequest, model_admin) -> HttpResponse:
    if not request.user.has_perm("audit.perform_privacy_request"):
        raise PermissionDenied("audit.perform_privacy_request required")
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        receipt = privacy_erasure_perform(
            email=form.cleaned_data["email"], actor=request.user, request=request
        )
        return TemplateResponse(
            request,
            "audit/erasure_receipt.html",
            _context(
                model_admin,
                request,
                "Erasure receipt",
                receipt=receipt,
                receipt_json=json.dumps(receipt.as_dict(), indent=2),
            ),
        )
    return TemplateResponse(
        request,
        "audit/privacy_form.html",
        _context(
            model_admin,
            request,
            "Erase a person (GDPR Art. 17)",
            form=form,
            submit="Erase everywhere",
            intro="Deletes or anonymizes the person in every store Switchyard keeps, sends HubSpot's GDPR "
            "delete, and adds the address (hashed) to the suppression list so later imports and "
            "webhooks skip it. The receipt and the audit log keep only a hash of the address.",
        ),
    )


@sensitive_post_parameters("email")
@never_cache
def access_export_view(request: HttpRequest, model_admin) -> HttpResponse:
    if not request.user.has_perm("audit.export_personal_data"):
        raise PermissionDenied("audit.export_personal_data required")
    form = AccessExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        export = privacy_access_export(
            email=form.cleaned_data["email"], actor=request.user, request=request
        )
        fmt = form.cleaned_data["format"]
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        if fmt == "csv":
            response = HttpResponse(
                privacy_access_export_csv(export), content_type="text/csv; charset=utf-8"
            )
        else:
            response = HttpResponse(
                json.dumps(export, indent=2, ensure_ascii=False),
                content_type="application/json; charset=utf-8",
            )
        response["Content-Disposition"] = (
            f'attachment; filename="access-request-{export["request_id"]}-{stamp}.{fmt}"'
        )
        response["Cache-Control"] = "no-store"
        return response
    return TemplateResponse(
        request,
        "audit/privacy_form.html",
        _context(
            model_admin,
            request,
            "Access export (CCPA)",
            form=form,
            submit="Download",
            intro="Everything Switchyard holds about one email address, across every store, as JSON or CSV. "
            "The download holds personal data: send it to the person only.",
        ),
    )
