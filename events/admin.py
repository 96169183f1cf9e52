"""The event hub in the admin: subscriptions with their condition builder and subscribers,
events with their deliveries, the dead-lettered deliveries (edit, redeliver), executions
with their timeline (resume, cancel). Pages: docs/events.md, "In the browser"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from audit.admin_mixins import AuditedModelAdmin
from events.admin_forms import CancelForm, PayloadForm, SubscriberForm, masked_json
from events.breaker import subscriber_resume
from events.executions.engine import ExecutionRefused, execution_cancel, execution_resume
from events.models import (
    Delivery,
    DeliveryLetter,
    DeliveryState,
    Event,
    Execution,
    ExecutionState,
    StepState,
    Subscriber,
    Subscription,
    TriggerCondition,
    WorkflowDefinition,
)
from events.redelivery import dead_letters_redeliver, deliveries_redeliver, delivery_payload_edit
from events.selectors import event_tally


class TriggerConditionInline(admin.TabularInline):
    """The condition builder: field, test, value; every row must hold."""

    model = TriggerCondition
    extra = 1
    verbose_name = "condition"
    verbose_name_plural = "Only when (every condition must hold)"


class SubscriberInline(admin.StackedInline):
    model = Subscriber
    form = SubscriberForm
    extra = 0
    fields = (
        ("name", "kind", "connection", "ordered"),
        ("channel", "text"),
        ("path", "table"),
        ("subject", "body"),
        ("property", "value", "record_type"),
        "state_shown",
    )
    readonly_fields = ("state_shown",)

    @admin.display(description="State")
    def state_shown(self, obj: Subscriber) -> str:
        if obj.pk is None:
            return "—"
        if obj.state == "active":
            return "Active"
        return f"{obj.get_state_display()}: {obj.paused_reason}"


@admin.register(Subscription)
class SubscriptionAdmin(AuditedModelAdmin, admin.ModelAdmin):
    list_display = ("name", "enabled", "trigger_shown", "subscriber_count")
    search_fields = ("name",)
    inlines = [TriggerConditionInline, SubscriberInline]
    fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        (
            "Trigger",
            {
                "fields": (
                    "source",
                    ("object_type", "event_type"),
                    ("property_name", "from_value", "to_value"),
                ),
                "description": "Which events: empty means any. A HubSpot deal stage change "
                "to Closed Won is object deal, property dealstage, to closedwon.",
            },
        ),
    )

    @admin.display(description="Trigger")
    def trigger_shown(self, obj: Subscription) -> str:
        parts = [obj.source or "any source", obj.object_type or "any object"]
        if obj.property_name:
            parts.append(f"{obj.property_name} {obj.from_value or '*'} → {obj.to_value or '*'}")
        return " · ".join(parts)

    @admin.display(description="Subscribers")
    def subscriber_count(self, obj: Subscription) -> int:
        return obj.subscribers.count()


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "connection", "state", "consecutive_failures", "waiting")
    list_filter = ("state", "kind")
    actions = ["resume_selected"]
    form = SubscriberForm
    readonly_fields = ("state", "consecutive_failures", "paused_until", "paused_reason")

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return (
            super()
            .get_queryset(request)
            .select_related("subscription", "connection")
            .annotate(_waiting=Count("deliveries", filter=Q(deliveries__state="pending")))
        )

    @admin.display(description="Waiting deliveries")
    def waiting(self, obj: Subscriber) -> int:
        return obj._waiting

    @admin.action(description="Resume (close the circuit)")
    def resume_selected(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        for subscriber in queryset:
            subscriber_resume(subscriber_id=subscriber.pk, actor=request.user)
        self.message_user(request, f"{queryset.count()} subscriber(s) resumed.")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("subscriber", "state_link", "attempts", "last_error", "skip_reason", "delivered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="State")
    def state_link(self, obj: Delivery) -> str:
        url = reverse("admin:events_delivery_change", args=[obj.pk])
        return format_html('<a href="{}" class="delivery-state">{}</a>', url, obj.state)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("uid", "source", "type", "object_id", "property_value", "received_at", "tally")
    list_filter = ("source_kind", "source", "type")
    search_fields = ("uid", "object_id", "source_event_id")
    inlines = [DeliveryInline]
    exclude = ("payload", "fields")
    readonly_fields = (
        "uid",
        "source",
        "source_kind",
        "source_event_id",
        "type",
        "object_type",
        "object_id",
        "property_name",
        "previous_value",
        "property_value",
        "occurred_at",
        "received_at",
        "fanned_out_at",
        "tally",
        "payload_masked",
    )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False  # an event is what happened: shown, never edited

    @admin.display(description="Matched = delivered + dead + skipped (+ pending)")
    def tally(self, obj: Event) -> str:
        t = event_tally(event_id=obj.pk)
        return f"{t['matched']} = {t['delivered']} + {t['dead']} + {t['skipped']}" + (
            f" (+ {t['pending']} pending)" if t["pending"] else ""
        )

    @admin.display(description="Payload (masked)")
    def payload_masked(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", masked_json(obj.payload))


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every delivery; a dead one has its letter in the dead-letter queue (the link on its
    page), where it is reviewed, edited and redelivered like any dead letter."""

    list_display = (
        "id",
        "event_link",
        "subscriber",
        "state",
        "attempts",
        "error_category",
        "last_error",
    )
    list_filter = ("state", "subscriber__subscription", "subscriber", "error_category")
    actions = ["redeliver_selected"]
    change_form_template = "admin/events/delivery/change_form.html"
    change_list_template = "admin/events/delivery/change_list.html"

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).select_related("event", "subscriber__subscription")

    @admin.display(description="Event")
    def event_link(self, obj: Delivery) -> str:
        url = reverse("admin:events_event_change", args=[obj.event_id])
        return format_html('<a href="{}">{} {}</a>', url, obj.event.type, obj.event.object_id)

    @admin.action(description="Redeliver selected dead letters")
    def redeliver_selected(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        count = deliveries_redeliver(
            delivery_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"{count} dead letter(s) put back for delivery.")

    def get_urls(self):  # noqa: ANN201
        wrap = self.admin_site.admin_view
        return [
            path("redeliver-all/", wrap(self.redeliver_all), name="events_delivery_redeliver_all"),
            *super().get_urls(),
        ]

    def redeliver_all(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            return redirect("admin:events_delivery_changelist")
        count = dead_letters_redeliver(
            subscriber_name=request.POST.get("subscriber", ""), actor=request.user
        )
        self.message_user(request, f"{count} dead letter(s) put back for delivery.")
        return redirect("admin:events_delivery_changelist")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return request.user.has_perm("events.change_delivery")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):  # noqa: ANN001, ANN201
        delivery = get_object_or_404(
            Delivery.objects.select_related("event", "subscriber"), pk=object_id
        )
        editable = delivery.state == DeliveryState.DEAD and self.has_change_permission(request)
        form = PayloadForm(
            request.POST if request.method == "POST" else None, payload=delivery.payload
        )
        if request.method == "POST":
            if not editable:
                messages.error(request, "Only a dead letter can be edited and redelivered.")
                return redirect(request.path)
            if form.is_valid():
                if request.POST.get("action") in ("save", "save_redeliver"):
                    delivery_payload_edit(
                        delivery_id=delivery.pk, payload=form.payload(), actor=request.user
                    )
                if request.POST.get("action") in ("redeliver", "save_redeliver"):
                    deliveries_redeliver(delivery_ids=[delivery.pk], actor=request.user)
                    messages.success(request, "Put back for delivery.")
                else:
                    messages.success(request, "Payload saved.")
                return redirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Delivery {delivery.pk} to {delivery.subscriber}",
            "delivery": delivery,
            "form": form,
            "editable": editable,
            "letter": DeliveryLetter.objects.filter(delivery=delivery)
            .select_related("dead_letter")
            .order_by("-id")
            .first(),
            "payload_masked": masked_json(delivery.payload),
            "original_masked": masked_json(delivery.original_payload)
            if delivery.original_payload
            else "",
        }
        return render(request, self.change_form_template, context)


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "trigger_subscription", "created_at")
    readonly_fields = ("name", "version", "trigger_subscription", "steps_shown", "created_at")
    exclude = ("steps",)

    @admin.display(description="Steps")
    def steps_shown(self, obj: WorkflowDefinition) -> str:
        return format_html("<pre>{}</pre>", masked_json(obj.steps))


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ("id", "definition", "state", "failed_step", "created_at")
    list_filter = ("state", "definition__name")
    change_form_template = "admin/events/execution/timeline.html"

    @admin.display(description="Stopped at")
    def failed_step(self, obj: Execution) -> str:
        step = obj.steps.filter(state=StepState.FAILED).first()
        return step.name if step else ""

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return request.user.has_perm("events.change_execution") or (
            request.method in ("GET", "HEAD") and self.has_view_permission(request, obj)
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):  # noqa: ANN001, ANN201
        execution = get_object_or_404(Execution.objects.select_related("definition"), pk=object_id)
        can_act = request.user.has_perm("events.change_execution")
        failed = execution.steps.filter(state=StepState.FAILED).first()
        input_form = PayloadForm(
            request.POST if request.POST.get("action") == "resume" else None,
            payload=(failed.input_override or failed.input) if failed else {},
            prefix="input",
        )
        cancel_form = CancelForm(request.POST if request.POST.get("action") == "cancel" else None)
        if request.method == "POST" and can_act:
            try:
                if request.POST.get("action") == "resume" and input_form.is_valid():
                    override = input_form.payload() if request.POST.get("edit_input") else None
                    execution_resume(
                        execution_id=execution.pk, actor=request.user, input_override=override
                    )
                    messages.success(
                        request, "Resumed from the failed step; completed steps are kept."
                    )
                    return redirect(request.path)
                if request.POST.get("action") == "cancel" and cancel_form.is_valid():
                    execution_cancel(
                        execution_id=execution.pk,
                        reason=cancel_form.cleaned_data["reason"],
                        actor=request.user,
                    )
                    messages.success(request, "Cancelled.")
                    return redirect(request.path)
            except ExecutionRefused as refused:
                messages.error(request, str(refused))
        steps = [
            {
                "step": step,
                "input": masked_json(step.input_override or step.input)
                if (step.input or step.input_override)
                else "",
                "output": masked_json(step.output) if step.output else "",
                "seconds": (
                    (step.finished_at - step.started_at).total_seconds()
                    if step.finished_at and step.started_at
                    else None
                ),
            }
            for step in execution.steps.order_by("position")
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Execution {execution.pk}: {execution.definition}",
            "execution": execution,
            "steps": steps,
            "failed": failed,
            "can_act": can_act,
            "can_resume": can_act and execution.state == ExecutionState.FAILED,
            "can_cancel": can_act
            and execution.state not in (ExecutionState.SUCCEEDED, ExecutionState.CANCELLED),
            "input_form": input_form,
            "cancel_form": cancel_form,
            "context_masked": masked_json(execution.context),
        }
        return render(request, self.change_form_template, context)
