"""Routing in the admin: territories and owners, ordered rules, decisions explained, the
simulator and "Route now" (custom views in admin_views.py).

Every configuration admin here is audited (`AuditedModelAdmin` first in the bases), inline
rows included: a territory's owners, a routing configuration's territory and scoring rules.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin_mixins import AuditedModelAdmin
from integrations.errors import ProviderError
from pipelines.models import (
    DecisionTrigger,
    Owner,
    RoutingConfig,
    RoutingDecision,
    ScoringRule,
    Territory,
    TerritoryOwner,
    TerritoryRule,
)
from pipelines.routing import admin_views
from pipelines.routing.owners import owner_problem, owners_sync, rule_problems
from pipelines.routing.selectors import (
    condition_fields,
    decision_explanation,
    decision_notified_label,
)
from pipelines.routing.services import contact_route


class TerritoryOwnerForm(forms.ModelForm):
    class Meta:
        model = TerritoryOwner
        fields = ["position", "owner", "weight", "daily_cap"]

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        problem = owner_problem(owner) if owner is not None else ""
        if problem:
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return owner


class TerritoryOwnerInline(admin.TabularInline):
    model = TerritoryOwner
    form = TerritoryOwnerForm
    extra = 1
    ordering = ("position", "id")
    autocomplete_fields = ("owner",)


@admin.register(Territory)
class TerritoryAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = ("name", "strategy", "owner_names")
    list_filter = ("strategy",)
    search_fields = ("name",)
    inlines = [TerritoryOwnerInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__owner")

    @admin.display(description="Owners")
    def owner_names(self, obj: Territory) -> str:
        return ", ".join(m.owner.name for m in obj.memberships.all())


@admin.register(Owner)
class OwnerAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = (
        "name",
        "email",
        "hubspot_id",
        "hubspot_connection",
        "active",
        "archived",
        "slack_user_id",
        "synced_at",
    )
    list_filter = ("active", "archived", "hubspot_connection")
    list_editable = ("active",)
    search_fields = ("hubspot_id", "email", "first_name", "last_name")
    readonly_fields = (
        "hubspot_id",
        "hubspot_connection",
        "email",
        "first_name",
        "last_name",
        "archived",
        "synced_at",
    )
    actions = ["sync_owners"]

    @admin.action(description="Sync owners from HubSpot")
    def sync_owners(self, request, queryset):
        connections = {
            c.hubspot_connection_id: c.hubspot_connection
            for c in RoutingConfig.objects.select_related("hubspot_connection")
        }
        for connection in connections.values():
            try:
                counts = owners_sync(connection=connection, actor_label=request.user.get_username())
            except ProviderError as error:
                self.message_user(request, f"{connection}: {error}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{connection}: {counts['created']} new, {counts['updated']} changed, "
                    f"{counts['archived']} archived.",
                )


class ConditionBuilder(forms.Textarea):
    """The conditions box as a condition builder (static/switchyard/condition_builder.js):
    field, test and value(s) per line; the box itself is hidden and holds what is saved."""

    class Media:
        js = ("switchyard/condition_builder.js",)
        css = {"all": ("switchyard/switchyard.css",)}

    def __init__(self) -> None:
        super().__init__(attrs={"class": "sy-conditions", "rows": 2, "cols": 40})

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        fields = format_html_join("", '<option value="{}">{}</option>', condition_fields())
        # One list per page is enough; browsers use the first of a repeated id.
        return format_html('{}<datalist id="condition-fields">{}</datalist>', box, fields)


class TerritoryRuleForm(forms.ModelForm):
    class Meta:
        model = TerritoryRule
        fields = ["position", "territory", "conditions", "enabled"]
        widgets = {"conditions": ConditionBuilder()}

    def __init__(self, *args, config: RoutingConfig | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config

    def clean_conditions(self):
        conditions = self.cleaned_data["conditions"]
        try:
            problems = rule_problems(config=self.config, conditions=conditions)
        except ProviderError as error:
            raise forms.ValidationError(
                f"Could not check the properties in HubSpot: {error}"
            ) from None
        if problems:
            raise forms.ValidationError(problems)
        return conditions


class ScoringRuleForm(TerritoryRuleForm):
    class Meta:
        model = ScoringRule
        fields = ["position", "name", "conditions", "points"]
        widgets = {"conditions": ConditionBuilder()}


class ConfigRulesFormSet(forms.BaseInlineFormSet):
    """Hands the configuration to each rule form, so it can ask HubSpot about properties."""

    def get_form_kwargs(self, index):
        config = self.instance if getattr(self.instance, "hubspot_connection_id", None) else None
        return {**super().get_form_kwargs(index), "config": config}


class _ConfigInline(admin.TabularInline):
    formset = ConfigRulesFormSet
    extra = 1
    ordering = ("position", "id")


class TerritoryRuleInline(_ConfigInline):
    model = TerritoryRule
    form = TerritoryRuleForm


class ScoringRuleInline(_ConfigInline):
    model = ScoringRule
    form = ScoringRuleForm


@admin.register(RoutingConfig)
class RoutingConfigAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = (
        "workflow",
        "hubspot_connection",
        "lifecycle_stage",
        "deal_threshold",
        "fallback_territory",
        "tools",
    )
    readonly_fields = ("tools",)
    inlines = [TerritoryRuleInline, ScoringRuleInline]
    fieldsets = [
        (
            None,
            {
                "fields": (
                    "workflow",
                    "hubspot_connection",
                    "lifecycle_stage",
                    "when_owned",
                    "fallback_territory",
                    "tools",
                )
            },
        ),
        ("Deals", {"fields": ("deal_threshold", "deal_pipeline", "deal_stage")}),
        (
            "Scoring API",
            {
                "fields": ("scoring_connection", "scoring_path", "score_field", "territory_field"),
                "description": "Leave the connection empty to score with the scoring rules below.",
            },
        ),
        ("Notifications", {"fields": ("slack_connection", "slack_channel", "portal_id")}),
    ]

    @admin.display(description="Tools")
    def tools(self, obj: RoutingConfig) -> str:
        if not obj.pk:
            return "Save first."
        return format_html(
            '<a class="button" href="{}">Simulator</a> <a class="button" href="{}">Route now</a>',
            reverse("admin:pipelines_routingconfig_simulate", args=[obj.pk]),
            reverse("admin:pipelines_routingconfig_route", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/simulate/",
                wrap(admin_views.simulator(self)),
                name="pipelines_routingconfig_simulate",
            ),
            path(
                "<int:pk>/route/",
                wrap(admin_views.route_now(self)),
                name="pipelines_routingconfig_route",
            ),
            *super().get_urls(),
        ]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "contact_id",
        "score",
        "territory",
        "owner",
        "status",
        "deal_id",
        "notified_label",
        "trigger",
    )
    list_filter = ("status", "notification_status", "trigger", "territory", "owner")
    search_fields = ("contact_id", "deal_id", "dedupe_key")
    list_select_related = ("territory", "owner", "config")
    actions = ["route_again"]
    fields = (
        "why",
        "contact_id",
        "company_id",
        "score",
        "score_source",
        "territory",
        "owner",
        "status",
        "deal_id",
        "notified_label",
        "notification_status",
        "errors",
        "trigger",
        "dedupe_key",
        "decision_time",
        "created_at",
        "rules_table",
        "score_table",
        "strategy_table",
        "inputs",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a decision is a record of what happened; re-route instead

    def has_delete_permission(self, request, obj=None):
        return False  # records of work, like runs: never deleted from the browser

    @admin.display(description="Notified")
    def notified_label(self, obj: RoutingDecision) -> str:
        return decision_notified_label(decision=obj)

    @admin.display(description="Time to decide")
    def decision_time(self, obj: RoutingDecision) -> str:
        return "—" if obj.decision_ms is None else f"{obj.decision_ms:.1f} ms"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        decision = self.get_object(request, object_id)
        title = (
            f"Why did this lead go to {decision.owner.name}?"
            if decision and decision.owner
            else "Why was this lead not routed?"
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "title": title}
        )

    @admin.display(description="Why")
    def why(self, obj: RoutingDecision) -> str:
        return format_html(
            "<ol class='routing-why'>{}</ol>",
            format_html_join(
                "", "<li>{}</li>", ((line,) for line in decision_explanation(decision=obj))
            ),
        )

    @admin.display(description="Rules evaluated")
    def rules_table(self, obj: RoutingDecision) -> str:
        rows = (
            (
                r["position"],
                r["territory"],
                "chosen" if r["chosen"] else ("matched" if r["matched"] else "no"),
                "; ".join(c["reason"] for c in r["conditions"]) or "no conditions",
            )
            for r in obj.rules
        )
        return format_html(
            "<table><tr><th>#</th><th>Territory</th><th>Match</th><th>Why</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="Score parts")
    def score_table(self, obj: RoutingDecision) -> str:
        rows = ((p["rule"], p["points"], p["why"]) for p in obj.score_parts)
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="Strategy state when chosen")
    def strategy_table(self, obj: RoutingDecision) -> str:
        state = obj.strategy_state or {}
        rows = (
            (
                s["name"],
                s["hubspot_id"],
                s["weight"],
                s["today"],
                s["daily_cap"] or "—",
                s["unavailable"] or "available",
            )
            for s in state.get("seats", [])
        )
        return format_html(
            "<p>{} · round {} → {}</p><table><tr><th>Owner</th><th>Id</th><th>Weight</th><th>Today</th><th>Cap</th>"
            "<th></th></tr>{}</table>",
            state.get("strategy", "—"),
            state.get("counter_before", "—"),
            state.get("counter_after", "—"),
            format_html_join("", "<tr>" + "<td>{}</td>" * 6 + "</tr>", rows),
        )

    @admin.action(description="Route now (again)", permissions=["route"])
    def route_again(self, request, queryset):
        for decision in queryset.select_related("config__hubspot_connection"):
            try:
                outcome = contact_route(
                    config=decision.config,
                    contact_id=decision.contact_id,
                    trigger=DecisionTrigger.ADMIN,
                    user=request.user,
                )
            except (LookupError, ProviderError) as error:
                self.message_user(
                    request, f"contact {decision.contact_id}: {error}", messages.ERROR
                )
                continue
            owner = outcome.owner.name if outcome.owner else "nobody"
            self.message_user(request, f"contact {decision.contact_id} → {owner}")

    def has_route_permission(self, request) -> bool:
        return request.user.has_perm("pipelines.change_routingconfig")
