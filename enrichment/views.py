"""The enrichment screens: workflows, configure (forms, no JSON), Run now, run detail with
progress and, per company, sources, winning values and the score breakdown."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from enrichment.admin_services import enrichment_workflow_save
from enrichment.forms import (
    FieldRuleFormSet,
    ScoreRuleFormSet,
    SettingsForm,
    field_initial,
    score_initial,
)
from enrichment.models import EnrichmentRun, EnrichmentSettings
from enrichment.selectors import enrichment_rules_current, enrichment_run_summary
from enrichment.services import enrichment_run_create, enrichment_run_dispatch
from pipelines.models import Run, RunTrigger, Workflow, WorkflowType
from pipelines.screens.access import screen, screen_permissions

VIEW = "enrichment.view_enrichmentrun"
RUN = "enrichment.add_enrichmentrun"
CONFIGURE = "enrichment.add_enrichmentrules"


def _workflow(workflow_id: int) -> Workflow:
    return get_object_or_404(Workflow, pk=workflow_id, type=WorkflowType.COMPANY_ENRICHMENT)


def _context(request: HttpRequest, **extra: object) -> dict:
    return {
        **screen_permissions(user=request.user),
        "can_run": request.user.has_perm(RUN),
        "can_configure": request.user.has_perm(CONFIGURE),
        **extra,
    }


@screen(get=VIEW)
def workflow_list(request: HttpRequest) -> HttpResponse:
    workflows = []
    for workflow in Workflow.objects.filter(type=WorkflowType.COMPANY_ENRICHMENT).order_by("slug"):
        runs = Run.objects.filter(workflow=workflow).order_by("-id")[:5]
        workflows.append({"workflow": workflow, "runs": runs})
    return render(request, "enrichment/workflow_list.html", _context(request, rows=workflows))


@screen(get=VIEW, post=RUN)
def run_now(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(workflow_id)
    if request.method != "POST":
        return redirect("enrichment:workflows")
    try:
        with transaction.atomic():
            run = enrichment_run_create(
                workflow=workflow,
                trigger=RunTrigger.MANUAL,
                actor=request.user,
                refresh=bool(request.POST.get("refresh")),
            )
            enrichment_run_dispatch(run=run)
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("enrichment:workflows")
    return redirect("enrichment:run", run_id=run.pk)


def _forms(request: HttpRequest, workflow: Workflow, config: EnrichmentSettings):
    rules = enrichment_rules_current(workflow=workflow)
    minute, hour = (config.cron.split() + ["0", "6"])[:2]
    initial = {
        "select_mode": config.select_mode,
        "cache_ttl_hours": config.cache_ttl_hours,
        "hour": int(hour) if hour.isdigit() else 6,
        "minute": int(minute) if minute.isdigit() else 0,
        "timezone": config.timezone,
        "notify_min_score": config.notify_min_score,
        "slack_channel": workflow.slack_channel,
    }
    data = request.POST if request.method == "POST" else None
    return (
        SettingsForm(data, initial=initial),
        FieldRuleFormSet(
            data,
            prefix="fields",
            initial=[field_initial(f) for f in (rules.fields if rules else [])],
        ),
        ScoreRuleFormSet(
            data,
            prefix="score",
            initial=[score_initial(r) for r in (rules.score.get("rules", []) if rules else [])],
        ),
        rules,
    )


def _kept(formset) -> list[dict]:
    return [f.rule() for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]


@screen(get=VIEW, post=CONFIGURE)
def configure(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = _workflow(workflow_id)
    config = EnrichmentSettings.objects.get(workflow=workflow)
    settings_form, fields, score, rules = _forms(request, workflow, config)
    if request.method == "POST" and all(f.is_valid() for f in (settings_form, fields, score)):
        data = settings_form.cleaned_data
        score_rules = _kept(score)
        try:
            changes = enrichment_workflow_save(
                slug=workflow.slug,
                workflow_fields={
                    "name": workflow.name,
                    "destination_connection_id": workflow.destination_connection_id,
                    "enabled": workflow.enabled,
                    "slack_connection_id": workflow.slack_connection_id,
                    "slack_channel": data["slack_channel"],
                },
                settings_fields={
                    "select_mode": data["select_mode"],
                    "cache_ttl_hours": data["cache_ttl_hours"],
                    # The form sets the time of day; days and months set in YAML are kept.
                    "cron": " ".join(
                        [str(data["minute"]), str(data["hour"]), *config.cron.split()[2:5]]
                    ),
                    "timezone": data["timezone"],
                    "notify_min_score": data["notify_min_score"],
                },
                sources=[
                    {
                        "name": s.name,
                        "connection_id": s.connection_id,
                        "daily_call_budget": s.daily_call_budget,
                        "monthly_credit_budget": s.monthly_credit_budget,
                        "position": s.position,
                    }
                    for s in workflow.enrichment_sources.order_by("position")
                ],
                fields=_kept(fields),
                score={**(rules.score if rules else {}), "rules": score_rules},
                actor=request.user,
                note="edited in the browser",
            )
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "; ".join(changes) or "Nothing changed.")
            return redirect("enrichment:configure", workflow_id=workflow.pk)
    return render(
        request,
        "enrichment/configure.html",
        _context(
            request,
            workflow=workflow,
            settings_form=settings_form,
            fields=fields,
            score=score,
            rules=rules,
            sources=workflow.enrichment_sources.select_related("connection"),
        ),
    )


@screen(get=VIEW)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("workflow"), pk=run_id)
    info = get_object_or_404(EnrichmentRun.objects.select_related("rules"), run=run)
    page = Paginator(run.records.order_by("position"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "enrichment/run_detail.html",
        _context(
            request,
            run=run,
            info=info,
            page=page,
            summary=enrichment_run_summary(run_id=run.pk),
            dead_letters=run.dead_letters.order_by("id")[:50],
        ),
    )


@screen(get=VIEW)
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(Run, pk=run_id)
    return JsonResponse(
        {
            **enrichment_run_summary(run_id=run.pk),
            "finished": run.is_finished,
            "batches_done": run.batches_done,
            "batches_total": run.batches_total,
        }
    )
