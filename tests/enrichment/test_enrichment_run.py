"""A run end to end: selection, parallel sources, cache, precedence, score, writes, Slack."""

from __future__ import annotations

import pytest

from enrichment.models import EnrichmentRun, EnrichmentSettings
from enrichment.services import enrichment_run_create, enrichment_run_execute
from pipelines.models import RecordState, RunStatus, RunTrigger
from tests.enrichment.world import long_ago, seed_companies

pytestmark = pytest.mark.django_db


def run_once(workflow, **options):
    run = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, **options)
    return enrichment_run_execute(run_id=run.pk, sleep=lambda s: None)


def test_new_companies_are_enriched_scored_written_and_announced(world, workflow):
    world.apollo.seed_organization(
        "acme.com", estimated_num_employees=420, industry="computer software"
    )
    world.builtwith.seed_technologies("acme.com", ["Salesforce", "Segment"])
    seed_companies(world, ["acme.com", "unknown-shop.com"])
    run = run_once(workflow, since=long_ago())
    assert run.status == RunStatus.SUCCESS
    assert (run.records_in, run.succeeded, run.skipped, run.dead_lettered) == (2, 2, 0, 0)
    acme = world.companies()["acme.com"]["properties"]
    assert acme["numberofemployees"] == "420"
    assert acme["industry"] == "COMPUTER_SOFTWARE"
    assert acme["switchyard_tech_stack"] == "Salesforce; Segment"
    assert acme["switchyard_fit_score"] == "50"  # +30 employees, +20 Salesforce
    record = run.records.get(match_key="acme.com")
    assert record.extras["fields"]["numberofemployees"]["source"] == "apollo"
    assert record.extras["why"].startswith("50: +30 numberofemployees is between 200–5,000")
    unknown = world.companies()["unknown-shop.com"]["properties"]
    assert not unknown.get("numberofemployees")  # nothing known, nothing written
    assert unknown["switchyard_fit_score"] == "0"  # but its score is: no rule matched
    info = EnrichmentRun.objects.get(run=run)
    assert info.expected_total == info.received_total == 2
    assert info.hubspot_writes == 1  # one batch update for both changed companies
    # Score 50 < 75: no company announced, one summary.
    assert len(world.slack.messages()) == 1
    assert "2 companies enriched" in world.slack.texts()[0]


def test_a_second_run_within_the_ttl_calls_no_provider_and_writes_nothing(world, workflow):
    seed_companies(world, [f"co{i}.com" for i in range(25)])
    first = run_once(workflow, since=long_ago())
    calls = world.provider_calls()
    assert calls == 3 + 2  # apollo 10+10+5 per bulk call, builtwith 16+9
    second = run_once(workflow, since=long_ago())
    assert world.provider_calls() == calls
    info = EnrichmentRun.objects.get(run=second)
    assert (info.provider_calls, info.cache_hits, info.hubspot_writes) == (0, 50, 0)
    assert second.skipped == 25
    assert first.succeeded == 25


def test_a_high_score_is_announced_with_its_breakdown(world, workflow):
    world.apollo.seed_organization("bigco.com", estimated_num_employees=900)
    world.builtwith.seed_technologies("bigco.com", ["Salesforce"])
    rules = workflow.enrichment_rules.get()
    rules.score["rules"].append({"field": "industry", "op": "present", "points": 30})
    rules.save()
    seed_companies(world, ["bigco.com"])
    run_once(workflow, since=long_ago())
    announced = [t for t in world.slack.texts() if "High-fit" in t]
    assert announced == [
        "High-fit account: Bigco (bigco.com) scored 80: +30 numberofemployees is between "
        "200–5,000; +20 switchyard_tech_stack contains Salesforce; +30 industry is known"
    ]


def test_a_reps_value_is_kept_unless_the_field_overwrites(world, workflow):
    world.apollo.seed_organization("rep.com", estimated_num_employees=420)
    world.builtwith.seed_technologies("rep.com", ["HubSpot"])
    seed_companies(world, ["rep.com"], numberofemployees="380", switchyard_tech_stack="Old")
    run = run_once(workflow, since=long_ago())
    props = world.companies()["rep.com"]["properties"]
    assert props["numberofemployees"] == "380"  # the rep's value
    assert props["switchyard_tech_stack"] == "HubSpot"  # overwrite: true
    record = run.records.get()
    assert "numberofemployees" in record.extras["kept"]
    assert "numberofemployees" not in record.values


def test_the_cursor_advances_only_after_a_complete_run(world, workflow):
    seed_companies(world, ["a1.com", "a2.com"])
    run = run_once(workflow, since=long_ago())
    cursor = EnrichmentSettings.objects.get(workflow=workflow).cursor
    assert cursor is not None
    assert cursor > long_ago()
    seed_companies(world, ["later.com"])
    run = run_once(workflow)  # from the cursor
    domains = set(run.records.values_list("match_key", flat=True))
    assert "later.com" in domains
    assert run.records.filter(state=RecordState.LOADED).count() == 1


def test_expired_answers_are_purged_and_asked_again(world, workflow):
    from datetime import timedelta

    from django.utils import timezone

    from enrichment.models import ProviderAnswer
    from enrichment.tasks import enrichment_answers_purge_task

    seed_companies(world, ["acme.com"])
    run_once(workflow, since=long_ago())
    assert ProviderAnswer.objects.count() == 2
    ProviderAnswer.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert enrichment_answers_purge_task() == 2
    calls = world.provider_calls()
    run_once(workflow, since=long_ago(), refresh=False)
    assert world.provider_calls() == calls + 2  # nothing cached any more: asked again
