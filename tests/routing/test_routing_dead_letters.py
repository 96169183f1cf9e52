"""A lead nothing could route goes through the pipeline's run services (run.finished audited,
a `route` stage letter), and "Reprocess" on that letter routes the contact again."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from integrations.registry import client_for
from pipelines.models import (
    DeadLetter,
    DeadLetterStage,
    DecisionStatus,
    RecordState,
    RoutingDecision,
    RunStatus,
    RunTrigger,
    Territory,
)
from pipelines.routing.leads import leads_fetch
from pipelines.routing.services import lead_route
from pipelines.services.dead_letters import dead_letter_reprocess
from tests.routing.conftest import contact_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def reprocess_inline(monkeypatch):
    from pipelines.routing import tasks
    from pipelines.routing.reprocess import routing_run_reprocess

    monkeypatch.setattr(
        tasks.routing_run_reprocess_task,
        "delay",
        lambda run_id: routing_run_reprocess(run_id=run_id),
    )


@pytest.fixture
def unroutable(sandbox, routing, owners):
    """A Brazilian lead with no rule for Brazil and no fallback territory."""
    routing.fallback_territory = None
    routing.save()
    contact = contact_seed(sandbox, country="BR")
    client = client_for(routing.hubspot_connection)
    lead = leads_fetch(client=client, contact_ids=[contact])[contact]
    decision = lead_route(config=routing, lead=lead, hubspot=client, dedupe_key="first")
    assert decision.status == DecisionStatus.DEAD_LETTERED
    return contact


def test_the_letter_run_is_finished_by_the_pipeline_and_audited(unroutable):
    letter = DeadLetter.objects.get()
    run = letter.run

    assert letter.stage == DeadLetterStage.ROUTE
    assert (run.status, run.records_in, run.dead_lettered, run.succeeded) == (
        RunStatus.FAILURE,
        1,
        1,
        0,
    )
    assert run.finished_at is not None
    assert run.status_message == letter.errors[0]  # why it could not be routed
    finished = AuditEvent.objects.get(action="run.finished", object_id=str(run.pk))
    assert finished.metadata["dead_lettered"] == 1


def test_reprocess_routes_the_contact_again(
    unroutable, routing, sandbox, admin_user, reprocess_inline, django_capture_on_commit_callbacks
):
    letter = DeadLetter.objects.get()
    routing.fallback_territory = Territory.objects.get(name="East")  # the admin's fix
    routing.save()

    with django_capture_on_commit_callbacks(execute=True):
        run = dead_letter_reprocess(dead_letter_ids=[letter.pk], actor=admin_user)

    run.refresh_from_db()
    letter.refresh_from_db()
    assert (run.trigger, run.parent_id, run.status) == (
        RunTrigger.REPROCESS,
        letter.run_id,
        RunStatus.SUCCESS,
    )
    assert (run.records_in, run.succeeded, run.dead_lettered) == (1, 1, 0)
    assert run.records.get().state == RecordState.LOADED
    assert (letter.resolution, letter.resolved_in_run_id) == ("reprocessed", run.pk)
    routed = RoutingDecision.objects.get(status=DecisionStatus.ROUTED)
    assert routed.contact_id == unroutable
    assert routed.territory.name == "East"
    contact = next(c for c in sandbox.objects("contacts") if c["id"] == unroutable)
    assert contact["properties"]["hubspot_owner_id"] == routed.owner.hubspot_id
    assert not DeadLetter.objects.filter(resolution="").exists()


def test_a_lead_still_unroutable_gets_a_new_letter_and_the_old_one_stays_resolved(
    unroutable, admin_user, reprocess_inline, django_capture_on_commit_callbacks
):
    letter = DeadLetter.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        run = dead_letter_reprocess(dead_letter_ids=[letter.pk], actor=admin_user)

    run.refresh_from_db()
    assert (run.status, run.dead_lettered) == (RunStatus.FAILURE, 1)
    again = DeadLetter.objects.get(resolution="")
    assert (again.stage, again.payload["contact_id"]) == (DeadLetterStage.ROUTE, unroutable)
    letter.refresh_from_db()
    assert letter.resolution == "reprocessed"
