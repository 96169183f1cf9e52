"""Decision-makers at target accounts: Apollo people search (free), emails revealed by bulk
match within a monthly credit budget, contacts created through the contact workflow and
associated with their company."""

from __future__ import annotations

import pytest

from enrichment.models import EnrichmentRun, EnrichmentSettings
from enrichment.services import enrichment_run_create, enrichment_run_execute
from integrations.models import Connection
from pipelines.models import RunTrigger
from tests.enrichment.world import long_ago, seed_companies
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(world, workflow):
    contacts = WorkflowFactory(
        slug="apollo-contacts", destination_connection=Connection.objects.get(name="hubspot-main")
    )
    EnrichmentSettings.objects.filter(workflow=workflow).update(
        people_enabled=True,
        people_min_score=50,
        people_seniorities=["c_suite", "vp"],
        people_per_company=2,
        people_reveal_emails=True,
        people_monthly_credits=3,
        people_contact_workflow=contacts,
    )
    for domain in ("fit-one.com", "fit-two.com"):
        world.apollo.seed_organization(domain, estimated_num_employees=900)
        world.builtwith.seed_technologies(domain, ["Salesforce"])
    world.apollo.seed_organization("small.com", estimated_num_employees=5)
    return contacts


def test_people_at_high_scoring_companies_become_associated_contacts_within_budget(
    world, workflow, people
):
    ids = dict(
        zip(
            ["fit-one.com", "fit-two.com", "small.com"],
            seed_companies(world, ["fit-one.com", "fit-two.com", "small.com"]),
            strict=True,
        )
    )
    run = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, since=long_ago())
    run = enrichment_run_execute(run_id=run.pk)
    info = EnrichmentRun.objects.get(run=run)
    # 2 companies × 2 people found (free); the budget of 3 credits reveals 3 of the 4.
    assert any("stopped revealing emails at the monthly budget (1 people" in n for n in info.notes)
    assert len(world.hubspot.objects("contacts")) == 3
    assert world.apollo.calls("bulk_match") == 1
    assert world.apollo.calls("api_search") == 2  # the small company scored too low
    assert info.people_created == 3
    # Next run in the same month: the budget is spent, nothing more is revealed.
    seed_companies(world, ["fit-three.com"])
    world.apollo.seed_organization("fit-three.com", estimated_num_employees=900)
    world.builtwith.seed_technologies("fit-three.com", ["Salesforce"])
    again = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, since=long_ago())
    enrichment_run_execute(run_id=again.pk)
    assert world.apollo.calls("bulk_match") == 1
    assert len(world.hubspot.objects("contacts")) == 3
    assert set(ids) == {"fit-one.com", "fit-two.com", "small.com"}


def test_revealed_people_are_created_once_and_associated(world, workflow, people):
    EnrichmentSettings.objects.filter(workflow=workflow).update(people_monthly_credits=10)
    company_ids = seed_companies(world, ["fit-one.com", "fit-two.com"])
    run = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, since=long_ago())
    run = enrichment_run_execute(run_id=run.pk)
    info = EnrichmentRun.objects.get(run=run)
    contacts = world.hubspot.objects("contacts")
    assert len(contacts) == 4
    assert {c["properties"]["jobtitle"] for c in contacts} == {
        "Chief Executive Officer",
        "VP of Sales",
    }
    assert info.people_created == 4
    assert world.apollo.credits_used == 2 + 4  # 2 organizations + 4 people revealed
    for company_id in company_ids:
        linked = world.hubspot.store.associated("companies", company_id, "contacts")
        assert len(linked) == 2
