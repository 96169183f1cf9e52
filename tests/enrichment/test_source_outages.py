"""A source outage (5xx, a 429 storm, Clearbit's 202 forever) leaves every other source's
results written and dead-letters the company for the failed source only; reprocessing asks
only what is not cached and completes the company."""

from __future__ import annotations

import pytest

from enrichment.admin_services import enrichment_rules_version_create
from enrichment.models import EnrichmentRun, EnrichmentSource
from enrichment.services import enrichment_run_create, enrichment_run_execute
from integrations.models import Connection
from pipelines.models import DeadLetter, RecordState, RunStatus, RunTrigger
from pipelines.services.dead_letters import dead_letter_reprocess
from tests.enrichment.world import long_ago, seed_companies

pytestmark = pytest.mark.django_db


def run_once(workflow, **options):
    run = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, **options)
    return enrichment_run_execute(run_id=run.pk, sleep=lambda s: None)


def reprocess(run, actor):
    letters = list(DeadLetter.objects.filter(run=run).values_list("pk", flat=True))
    again = dead_letter_reprocess(dead_letter_ids=letters, actor=actor, dispatch=False)
    return enrichment_run_execute(run_id=again.pk, sleep=lambda s: None)


@pytest.mark.parametrize("status", [503, 429])
def test_an_apollo_outage_writes_builtwith_and_dead_letters_apollo_only(
    world, workflow, admin_user, status
):
    seed_companies(world, ["acme.com", "globex.com"])
    world.apollo.fail(status)  # every call, for the whole run
    run = run_once(workflow, since=long_ago())
    assert run.status == RunStatus.PARTIAL  # BuiltWith's values were written
    assert run.dead_lettered == 2
    companies = world.companies()
    for domain in ("acme.com", "globex.com"):
        props = companies[domain]["properties"]
        assert props["switchyard_tech_stack"]  # BuiltWith's result is written
        assert not props.get("numberofemployees")  # nothing from Apollo, nothing invented
    letters = DeadLetter.objects.filter(run=run)
    assert {d.payload["sources"][0] for d in letters} == {"apollo"}
    assert all(d.category.startswith("apollo_") for d in letters)
    builtwith_calls = len(world.builtwith.request_log)

    world.apollo.fail(None)
    again = reprocess(run, admin_user)
    assert again.status == RunStatus.SUCCESS
    assert again.parent_id == run.pk
    assert len(world.builtwith.request_log) == builtwith_calls  # cached: not asked again
    assert world.companies()["acme.com"]["properties"]["numberofemployees"]
    assert DeadLetter.objects.filter(run=run, resolution="reprocessed").count() == 2


def test_clearbit_queued_forever_leaves_the_others_written(world, workflow, admin_user):
    EnrichmentSource.objects.create(
        workflow=workflow,
        name="clearbit",
        connection=Connection.objects.get(name="clearbit-main"),
        position=2,
    )
    rules = workflow.enrichment_rules.get()
    fields = [
        {**f, "from": [*f["from"], "clearbit.metrics.employees"]}
        if f["to"] == "numberofemployees"
        else f
        for f in rules.fields
    ] + [{"to": "city", "from": ["clearbit.geo.city"]}]
    enrichment_rules_version_create(workflow=workflow, fields=fields, score=rules.score)
    world.clearbit.forever_pending = True
    seed_companies(world, ["acme.com"])
    run = run_once(workflow, since=long_ago())
    record = run.records.get()
    assert record.state == RecordState.DEAD_LETTERED
    assert record.extras["sources"]["clearbit"].startswith("failed (pending)")
    props = world.companies()["acme.com"]["properties"]
    assert props["numberofemployees"]  # Apollo's, first in precedence
    assert not props.get("city")  # Clearbit-only field: nothing yet
    assert record.dead_letter.category == "clearbit_pending"
    assert world.clearbit.calls("/v2/companies/find") == 3  # asked 3 times, then gave up

    world.clearbit.forever_pending = False
    again = reprocess(run, admin_user)
    assert again.status == RunStatus.SUCCESS
    assert world.companies()["acme.com"]["properties"]["city"] == "San Francisco"
    info = EnrichmentRun.objects.get(run=again)
    assert info.provider_calls == 1  # only Clearbit; Apollo and BuiltWith came from the cache


def test_a_spent_daily_budget_stops_calls_and_says_so(world, workflow):
    source = workflow.enrichment_sources.get(name="apollo")
    source.daily_call_budget = 1
    source.save()
    seed_companies(world, [f"b{i}.com" for i in range(15)])  # 2 Apollo calls needed
    run = run_once(workflow, since=long_ago())
    assert world.apollo.calls("bulk_enrich") == 1
    letters = DeadLetter.objects.filter(run=run)
    assert letters.count() == 5
    assert {d.category for d in letters} == {"apollo_budget_exhausted"}
