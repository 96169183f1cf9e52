"""Routing one lead: assess (score, territory), choose an owner, record the decision, act.

Order matters for idempotency (a retried webhook must never create a second deal):
the decision is written under its unique key *before* anything is done in HubSpot, each
action sets its flag on the decision when done, and a redelivery or task retry finds the row
and resumes where it stopped. The deal is created at most once per contact and configuration.
HTTP calls never run inside the transaction that holds the territory's lock.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from integrations.errors import ProviderError
from pipelines.models import (
    DeadLetter,
    DeadLetterStage,
    DecisionStatus,
    DecisionTrigger,
    NotificationStatus,
    Owner,
    RecordSource,
    RecordState,
    RoutingConfig,
    RoutingDecision,
    Run,
    RunRecord,
    RunStatus,
    RunTrigger,
    Territory,
    WhenOwned,
)
from pipelines.privacy import email_suppressed
from pipelines.routing import notify
from pipelines.routing.rules import Lead, RuleResult, rules_evaluate
from pipelines.routing.scoring import Score, score_by_api, score_by_rules
from pipelines.routing.selectors import RoutingSetup, routing_setup_load
from pipelines.routing.strategies import Pick, territory_owner_pick
from pipelines.services.notifications import notification_failed
from pipelines.services.runs import run_finish
from pipelines.services.staging import run_create

logger = logging.getLogger(__name__)


@dataclass
class Assessment:
    """Everything decided before an owner is chosen. Writes nothing."""

    lead: Lead
    score: Score
    rules: list[RuleResult] = field(default_factory=list)
    rule_position: int | None = None
    territory: Territory | None = None
    territory_reason: str = ""
    elapsed_ms: float = 0.0  # our own time; the scoring API's latency is excluded


@dataclass
class Outcome:
    """A decision, saved or previewed, in the shape `manage.py route --json` prints."""

    assessment: Assessment
    pick: Pick | None
    owner: Owner | None
    territory: Territory | None
    decision: RoutingDecision | None = None


def lead_assess(
    *,
    config: RoutingConfig,
    lead: Lead,
    setup: RoutingSetup | None = None,
    scoring_client: Any = None,
    outside_calls: bool = True,
) -> Assessment:
    """``outside_calls=False`` (a Viewer's simulation) scores with the built-in rules even
    when a scoring API is configured: its credential is never used on a Viewer's behalf."""
    started, external = time.perf_counter(), 0.0
    setup = setup or routing_setup_load(config=config)
    if config.scoring_connection_id and outside_calls:
        api_started = time.perf_counter()
        score = _score_by_api(config=config, lead=lead, client=scoring_client)
        external = time.perf_counter() - api_started
    else:
        score = score_by_rules(rules=setup.scoring_rules, lead=lead)
    chosen, results = rules_evaluate(setup.rules, lead)
    assessment = Assessment(lead, score, results)
    by_name = setup.territories
    if score.source == "unavailable":
        # The rule (docs/routing.md): if the scoring API fails after retries, use the fallback territory.
        assessment.territory = config.fallback_territory
        assessment.territory_reason = f"The scoring API failed ({score.error}): fallback territory."
    elif score.territory and score.territory in by_name:
        assessment.territory = by_name[score.territory]
        assessment.territory_reason = f"The scoring API chose {score.territory}."
    elif chosen is not None:
        assessment.territory, assessment.rule_position = (
            by_name.get(chosen.territory),
            chosen.position,
        )
    else:
        assessment.territory = config.fallback_territory
        assessment.territory_reason = "No rule matched: fallback territory."
    assessment.elapsed_ms = (time.perf_counter() - started - external) * 1000
    return assessment


def _score_by_api(*, config: RoutingConfig, lead: Lead, client: Any) -> Score:
    from integrations.registry import client_given_or_new

    if client is None and config.scoring_connection.provider != "http":
        # Chosen before the form refused other kinds: fall back rather than fail every lead.
        message = f"{config.scoring_connection.name} is not an HTTP JSON connection"
        return Score(None, "unavailable", error=message)
    try:
        with client_given_or_new(config.scoring_connection, given=client) as scoring:
            return score_by_api(
                client=scoring,
                path=config.scoring_path,
                score_field=config.score_field,
                territory_field=config.territory_field,
                lead=lead,
            )
    except ProviderError as error:
        notify.routing_alert(
            config=config, kind="scoring_failed", message=f"scoring API failed: {error}"
        )
        return Score(None, "unavailable", error=str(error))


def owner_choose(
    *, config: RoutingConfig, assessment: Assessment, preview: bool
) -> tuple[Pick | None, Territory | None]:
    """The territory's strategy picks; when nobody there can take the lead, the fallback's."""
    territory = assessment.territory
    if territory is None:
        return None, None
    portal = config.hubspot_connection_id
    pick = territory_owner_pick(territory=territory, preview=preview, connection_id=portal)
    fallback = config.fallback_territory
    if pick.owner_pk is None and fallback is not None and fallback.pk != territory.pk:
        assessment.territory_reason = (
            assessment.territory_reason + " " + pick.reason + ": fallback territory."
        ).strip()
        return (
            territory_owner_pick(territory=fallback, preview=preview, connection_id=portal),
            fallback,
        )
    return pick, territory


def lead_preview(*, config: RoutingConfig, lead: Lead, outside_calls: bool = True) -> Outcome:
    """What would happen, writing nothing and advancing no round (simulator, --dry-run)."""
    assessment = lead_assess(config=config, lead=lead, outside_calls=outside_calls)
    pick, territory = owner_choose(config=config, assessment=assessment, preview=True)
    owner = Owner.objects.filter(pk=pick.owner_pk).first() if pick and pick.owner_pk else None
    return Outcome(assessment, pick, owner, territory)


def lead_route(
    *,
    config: RoutingConfig,
    lead: Lead,
    hubspot: Any,
    dedupe_key: str = "",
    trigger: str = DecisionTrigger.WEBHOOK,
    user: Any = None,
    inbound_event_id: int | None = None,
    setup: RoutingSetup | None = None,
    reroute: bool | None = None,
) -> RoutingDecision:
    """Decide (once per key) and act (resuming whatever a previous attempt left undone).
    A contact HubSpot already assigns to someone keeps that owner unless ``reroute`` (default:
    the configuration's "when owned" choice)."""
    dedupe_key = dedupe_key or f"{trigger}:{lead.contact_id}:{uuid.uuid4()}"
    decision = RoutingDecision.objects.filter(dedupe_key=dedupe_key).first()
    if decision is None:
        decision = decision_record(
            config=config,
            lead=lead,
            dedupe_key=dedupe_key,
            trigger=trigger,
            user=user,
            inbound_event_id=inbound_event_id,
            setup=setup,
            reroute=config.when_owned == WhenOwned.REROUTE if reroute is None else reroute,
        )
    if decision.status == DecisionStatus.DECIDED:
        decision_act(decision=decision, hubspot=hubspot)
    return decision


def decision_record(
    *,
    config: RoutingConfig,
    lead: Lead,
    dedupe_key: str,
    trigger: str,
    user: Any = None,
    inbound_event_id: int | None = None,
    setup: RoutingSetup | None = None,
    reroute: bool = False,
) -> RoutingDecision:
    if email_suppressed(str(lead.contact.get("email") or "")):
        return _decision_skip(
            config=config,
            lead=lead,
            dedupe_key=dedupe_key,
            trigger=trigger,
            user=user,
            inbound_event_id=inbound_event_id,
        )
    assessment = lead_assess(config=config, lead=lead, setup=setup)
    kept = None if reroute else owner_current(lead=lead)
    current_id = str(lead.contact.get("hubspot_owner_id") or "").strip()
    if not reroute and current_id and kept is None:  # owned by someone not synced here: keep
        decision, _ = RoutingDecision.objects.get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "config": config,
                "trigger": trigger,
                "triggered_by": user,
                "inbound_event_id": inbound_event_id,
                "contact_id": lead.contact_id,
                "status": DecisionStatus.SKIPPED,
                "territory_reason": f"Already owned by HubSpot owner {current_id}, who is not "
                "among the synced owners: kept. Sync owners, or choose re-route.",
            },
        )
        return decision
    try:
        with transaction.atomic():
            started = time.perf_counter()
            if kept is not None:  # no round-robin turn is used up for a kept owner
                pick, territory = _kept_pick(kept), assessment.territory
            else:
                pick, territory = owner_choose(config=config, assessment=assessment, preview=False)
            decision = RoutingDecision.objects.create(
                config=config,
                dedupe_key=dedupe_key,
                trigger=trigger,
                triggered_by=user,
                inbound_event_id=inbound_event_id,
                contact_id=lead.contact_id,
                company_id=lead.company_id or "",
                inputs={"contact": lead.contact, "company": lead.company},
                score=assessment.score.value,
                score_source=assessment.score.source,
                score_parts=assessment.score.parts,
                rules=[r.as_json() for r in assessment.rules],
                territory=territory,
                territory_reason=assessment.territory_reason,
                owner_id=pick.owner_pk if pick else None,
                strategy=territory.strategy if territory else "",
                strategy_state={
                    **(pick.state if pick else {}),
                    "reason": pick.reason if pick else "",
                },
                decision_ms=assessment.elapsed_ms + (time.perf_counter() - started) * 1000,
                owner_updated=kept is not None,  # HubSpot already has this owner
            )
    except IntegrityError:  # another worker recorded this key first: its decision stands
        return RoutingDecision.objects.get(dedupe_key=dedupe_key)
    if decision.owner_id is None:
        decision_dead_letter(
            decision=decision,
            category="unroutable",
            message=assessment.territory_reason or "no territory and no fallback territory",
        )
    return decision


def owner_current(*, lead: Lead) -> Owner | None:
    """The owner HubSpot already assigns the contact to, if it is one Switchyard knows."""
    current = str(lead.contact.get("hubspot_owner_id") or "").strip()
    if not current:
        return None
    return Owner.objects.filter(hubspot_id=current).first()


@dataclass
class _KeptPick:
    owner_pk: int
    state: dict[str, Any]
    reason: str


def _kept_pick(owner: Owner) -> _KeptPick:
    return _KeptPick(
        owner_pk=owner.pk,
        state={"strategy": "kept"},
        reason=f"Already owned by {owner.name} in HubSpot: kept (re-route was not chosen).",
    )


def _decision_skip(
    *,
    config: RoutingConfig,
    lead: Lead,
    dedupe_key: str,
    trigger: str,
    user: Any,
    inbound_event_id: int | None,
) -> RoutingDecision:
    """The person was erased: no owner, no deal, no message, and none of their properties kept
    (the decision records only that a suppressed contact was skipped)."""
    decision, _ = RoutingDecision.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "config": config,
            "trigger": trigger,
            "triggered_by": user,
            "inbound_event_id": inbound_event_id,
            "contact_id": lead.contact_id,
            "status": DecisionStatus.SKIPPED,
            "territory_reason": "Not routed: the contact's email is suppressed by a privacy request.",
        },
    )
    return decision


def decision_act(*, decision: RoutingDecision, hubspot: Any) -> RoutingDecision:
    """Set the owner, create (or reuse) the deal, notify the rep. Transient HubSpot errors
    propagate for the task to retry; a permanent one dead-letters the lead."""
    config, owner = decision.config, decision.owner
    try:
        if not decision.owner_updated:
            result = hubspot.batch_update(
                "contacts",
                [{"id": decision.contact_id, "properties": {"hubspot_owner_id": owner.hubspot_id}}],
            )
            if result.failed:
                failure = result.failed[0]
                raise ProviderError(
                    f"HubSpot refused the owner: {failure.category}",
                    permanent=True,
                    status=failure.status,
                )
            decision.owner_updated = True
            decision.save(update_fields=["owner_updated", "updated_at"])
        if (
            decision.score is not None
            and decision.score > config.deal_threshold
            and not decision.deal_id
        ):
            deal_ensure(decision=decision, hubspot=hubspot)
    except ProviderError as error:
        if not error.permanent:
            raise
        decision.errors = [*decision.errors, str(error)]
        decision.status = DecisionStatus.FAILED
        decision.save(update_fields=["errors", "status", "updated_at"])
        decision_dead_letter(decision=decision, category="hubspot_rejected", message=str(error))
        return decision
    if not decision.notified:
        try:
            decision.notified = notify.rep_notify(decision=decision)
        except ProviderError as error:  # a missed notification must not undo a routed lead
            decision.errors = [*decision.errors, f"Slack: {error}"]
            notification_failed(
                subject=decision,
                connection=config.slack_connection,
                error=error,
                what="rep message",
            )
        else:
            if decision.notified:
                decision.notification_status = NotificationStatus.SENT
    decision.status = DecisionStatus.ROUTED
    decision.save(
        update_fields=[
            "notified", "notification_status", "notification_error", "errors", "status",
            "updated_at",
        ]
    )  # fmt: skip
    return decision


def deal_ensure(*, decision: RoutingDecision, hubspot: Any) -> str:
    """Create the deal once. The intent is saved first (deal_attempted); if a crash lost the
    answer, the deal is looked up by its name, which carries the decision id, before any
    second create. A deal made for the same contact by an earlier decision is reused."""
    earlier = (
        RoutingDecision.objects.filter(config=decision.config, contact_id=decision.contact_id)
        .exclude(deal_id="")
        .exclude(pk=decision.pk)
        .values_list("deal_id", flat=True)
        .first()
    )
    name = _deal_name(decision)
    deal_id = earlier or ""
    if not deal_id and decision.deal_attempted:
        found = next(
            iter(
                hubspot.search(
                    "deals",
                    filter_groups=[
                        {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": name}]}
                    ],
                    properties=["dealname"],
                )
            ),
            None,
        )
        deal_id = str(found["id"]) if found else ""
    if not deal_id:
        RoutingDecision.objects.filter(pk=decision.pk).update(deal_attempted=True)
        config = decision.config
        deal = hubspot.create_deal(
            {
                "dealname": name,
                "pipeline": config.deal_pipeline,
                "dealstage": config.deal_stage,
                "hubspot_owner_id": decision.owner.hubspot_id,
            },
            contact_id=decision.contact_id,
            company_id=decision.company_id or None,
        )
        deal_id = str(deal.get("id") or "")
    decision.deal_id, decision.deal_attempted = deal_id, True
    decision.save(update_fields=["deal_id", "deal_attempted", "updated_at"])
    return deal_id


def _deal_name(decision: RoutingDecision) -> str:
    contact, company = decision.inputs.get("contact", {}), decision.inputs.get("company", {})
    who = (
        company.get("name")
        or contact.get("company")
        or contact.get("email")
        or f"contact {decision.contact_id}"
    )
    return f"{who} – inbound MQL (routing #{decision.pk})"


def decision_dead_letter(*, decision: RoutingDecision, category: str, message: str) -> DeadLetter:
    """Nothing can route this lead: keep it in the dead-letter queue, never drop it. The
    letter's run goes through the pipeline's run_create / run_finish like any other run
    (a `run.finished` audit event, counts from its record); "Reprocess" routes it again."""
    now = timezone.now()
    with transaction.atomic():
        run = run_create(
            workflow=decision.config.workflow,
            trigger=RunTrigger.WEBHOOK
            if decision.trigger == DecisionTrigger.WEBHOOK
            else RunTrigger.MANUAL,
            actor=decision.triggered_by,
            actor_label="routing",
        )
        run.status, run.started_at = RunStatus.RUNNING, now
        run.save(update_fields=["status", "started_at"])
        record = RunRecord.objects.create(
            run=run,
            position=1,
            source=RecordSource.WEBHOOK,
            event_id=decision.dedupe_key[:200],
            inbound_event_id=decision.inbound_event_id,
            raw={"contact_id": decision.contact_id, **decision.inputs},
            state=RecordState.DEAD_LETTERED,
            hubspot_id=decision.contact_id,
            created_at=now,
            updated_at=now,
        )
        letter = DeadLetter.objects.create(
            run=run,
            record=record,
            workflow=decision.config.workflow,
            stage=DeadLetterStage.ROUTE,
            category=category,
            errors=[message],
            payload={"contact_id": decision.contact_id, "decision_id": decision.pk},
        )
        run_finish(run=run)
        Run.objects.filter(pk=run.pk).update(status_message=message[:300])
        RoutingDecision.objects.filter(pk=decision.pk).update(status=DecisionStatus.DEAD_LETTERED)
    decision.status = DecisionStatus.DEAD_LETTERED
    notify.routing_alert(
        config=decision.config, kind=category, message=f"contact {decision.contact_id}: {message}"
    )
    return letter


def contact_route(
    *,
    config: RoutingConfig,
    contact_id: str,
    trigger: str,
    user: Any = None,
    dry_run: bool = False,
    hubspot: Any = None,
    reroute: bool | None = None,
) -> Outcome:
    """Route one contact by id now ("Route now" in the admin, `manage.py route`). With
    dry_run, the decision is only previewed: nothing written here or in HubSpot."""
    from integrations.registry import client_given_or_new
    from pipelines.routing.leads import leads_fetch
    from pipelines.routing.selectors import properties_needed

    with client_given_or_new(config.hubspot_connection, given=hubspot) as client:
        lead = leads_fetch(
            client=client, contact_ids=[contact_id], extra=properties_needed(config=config)
        ).get(str(contact_id))
        if lead is None:
            raise LookupError(f"HubSpot has no contact {contact_id}")
        if dry_run:
            return lead_preview(config=config, lead=lead)
        decision = lead_route(
            config=config, lead=lead, hubspot=client, trigger=trigger, user=user, reroute=reroute
        )
    # A person routed it (and HubSpot's owner may have changed): who, from where, with what.
    audit_event_record(
        action="routing.routed",
        actor=user,
        actor_label="" if user is not None else f"routing:{trigger}",
        obj=decision,
        metadata={
            "contact_id": str(contact_id),
            "trigger": trigger,
            "territory": decision.territory.name if decision.territory else None,
            "owner": decision.owner.hubspot_id if decision.owner else None,
            "status": decision.status,
            "reroute": reroute,
        },
    )
    return Outcome(
        lead_assess_from(decision, lead), None, decision.owner, decision.territory, decision
    )


def lead_assess_from(decision: RoutingDecision, lead: Lead) -> Assessment:
    """The stored decision's assessment, so callers see one shape for previews and decisions."""
    score = Score(decision.score, decision.score_source, decision.score_parts)
    chosen = next((r for r in decision.rules if r.get("chosen")), None)
    return Assessment(
        lead,
        score,
        [],
        chosen["position"] if chosen else None,
        decision.territory,
        decision.territory_reason,
        decision.decision_ms or 0.0,
    )


def outcome_json(*, outcome: Outcome) -> dict[str, Any]:
    """The shape `manage.py route --json` prints (its documented contract, docs/routing.md)."""
    from pipelines.routing.selectors import decision_explanation

    decision = outcome.decision
    if decision is None:  # a preview: explain it from the unsaved parts
        decision = RoutingDecision(
            contact_id=outcome.assessment.lead.contact_id,
            score=outcome.assessment.score.value,
            score_source=outcome.assessment.score.source,
            score_parts=outcome.assessment.score.parts,
            rules=[r.as_json() for r in outcome.assessment.rules],
            territory=outcome.territory,
            territory_reason=outcome.assessment.territory_reason,
            owner=outcome.owner,
            strategy_state={
                **(outcome.pick.state if outcome.pick else {}),
                "reason": outcome.pick.reason if outcome.pick else "",
            },
        )
    return {
        "contact_id": outcome.assessment.lead.contact_id,
        "score": outcome.assessment.score.value,
        "territory": outcome.territory.name if outcome.territory else None,
        "owner_id": outcome.owner.hubspot_id if outcome.owner else None,
        "rule": outcome.assessment.rule_position,
        "deal_id": (decision.deal_id or None) if outcome.decision else None,
        "notified": bool(outcome.decision and decision.notified),
        "explanation": " ".join(decision_explanation(decision=decision)),
    }
