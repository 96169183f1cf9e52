"""The routing simulator and "Route now", as custom admin views (wrapped by admin_view in
RoutingConfigAdmin.get_urls, rendered inside the admin's layout via each_context)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from integrations.errors import ProviderError
from pipelines.models import DecisionTrigger, RoutingConfig
from pipelines.routing.rules import Lead
from pipelines.routing.services import contact_route, lead_preview, outcome_json


def _properties(text: str) -> dict[str, str]:
    """``name = value`` (or ``name: value``) per line → properties."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        separator = "=" if "=" in line else ":"
        name, _, value = line.partition(separator)
        if not value and separator not in line:
            raise forms.ValidationError(f"“{line}” is not name = value")
        values[name.strip()] = value.strip()
    return values


class SimulatorForm(forms.Form):
    contact_id = forms.CharField(
        required=False,
        label="HubSpot contact id",
        help_text="Read from HubSpot (nothing is written). Or fill in the properties below.",
    )
    contact = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 50}),
        label="Contact properties",
        help_text="One per line: country = GB",
    )
    company = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
        label="Company properties",
        help_text="e.g. numberofemployees = 250",
    )

    def clean_contact(self) -> dict[str, str]:
        return _properties(self.cleaned_data["contact"])

    def clean_company(self) -> dict[str, str]:
        return _properties(self.cleaned_data["company"])


class RouteNowForm(forms.Form):
    contact_id = forms.CharField(label="HubSpot contact id")


def _context(model_admin, request: HttpRequest, config: RoutingConfig, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": config,
        "title": title,
        **extra,
    }


def simulator(model_admin) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        config = get_object_or_404(
            RoutingConfig.objects.select_related("workflow", "hubspot_connection"), pk=pk
        )
        if not model_admin.has_view_permission(request, config):
            raise PermissionDenied
        form = SimulatorForm(request.POST or None)
        result, error = None, ""
        # Only someone who may change routing may make the server call HubSpot or the scoring
        # API with the connections' credentials (docs/security.md, "Hostile input"); a Viewer
        # simulates typed properties scored by the built-in rules.
        outside_calls = model_admin.has_change_permission(request, config)
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["contact_id"] and not outside_calls:
                    error = (
                        "Reading a contact from HubSpot needs the permission to change routing; "
                        "fill in the properties instead."
                    )
                elif form.cleaned_data["contact_id"]:
                    outcome = contact_route(
                        config=config,
                        contact_id=form.cleaned_data["contact_id"].strip(),
                        trigger=DecisionTrigger.ADMIN,
                        dry_run=True,
                    )
                else:
                    lead = Lead(
                        "simulated",
                        form.cleaned_data["contact"],
                        None,
                        form.cleaned_data["company"],
                    )
                    outcome = lead_preview(config=config, lead=lead, outside_calls=outside_calls)
                if not error:
                    result = {
                        "json": outcome_json(outcome=outcome),
                        "outcome": outcome,
                        "rules": [r.as_json() for r in outcome.assessment.rules],
                    }
            except (LookupError, ProviderError) as failure:
                error = str(failure)
        return render(
            request,
            "admin/pipelines/routing/simulator.html",
            _context(
                model_admin,
                request,
                config,
                "Routing simulator",
                form=form,
                result=result,
                error=error,
                scoring_offline=bool(config.scoring_connection_id) and not outside_calls,
            ),
        )

    return view


def route_now(model_admin) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        config = get_object_or_404(
            RoutingConfig.objects.select_related("workflow", "hubspot_connection"), pk=pk
        )
        if not model_admin.has_change_permission(request, config):
            raise PermissionDenied
        form = RouteNowForm(request.POST or None)
        result, error = None, ""
        if request.method == "POST" and form.is_valid():
            try:
                outcome = contact_route(
                    config=config,
                    contact_id=form.cleaned_data["contact_id"].strip(),
                    trigger=DecisionTrigger.ADMIN,
                    user=request.user,
                )
                result = {"json": outcome_json(outcome=outcome), "decision": outcome.decision}
            except (LookupError, ProviderError) as failure:
                error = str(failure)
        return render(
            request,
            "admin/pipelines/routing/route_now.html",
            _context(
                model_admin,
                request,
                config,
                "Route a contact now",
                form=form,
                result=result,
                error=error,
            ),
        )

    return view
