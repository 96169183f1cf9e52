"""Decision-makers at target accounts: for companies at or above the people threshold,
Apollo's People API Search (no credits) finds up to N people by title and seniority; bulk
match (≤ 10 a call, 1 credit per match) reveals emails within the workflow's monthly credit
budget; the people then go through the contact workflow (validation, dedupe, dead letters,
skip-unchanged) and each created or updated contact is associated with its company."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from enrichment.models import EnrichmentRun, EnrichmentSettings
from enrichment.selectors import usage_spent
from enrichment.usage import usage_record
from integrations.errors import ProviderError
from integrations.registry import client_for
from pipelines.models import InboundEvent, RecordState, Run, RunTrigger

BULK = 10


def _targets(run: Run, config: EnrichmentSettings) -> list[tuple[str, str, str]]:
    """(company id, domain, company name) of companies scoring at least the threshold."""
    out = []
    for record in run.records.exclude(state=RecordState.DEAD_LETTERED).order_by("position"):
        score = (record.extras or {}).get("score")
        if score is not None and score >= config.people_min_score and record.match_key:
            name = (record.raw.get("properties") or {}).get("name") or record.match_key
            out.append((record.hubspot_id, record.match_key, name))
    return out


def _search(client: Any, domain: str, config: EnrichmentSettings) -> list[dict[str, Any]]:
    filters: dict[str, Any] = {"q_organization_domains_list": [domain]}
    if config.people_titles:
        filters["person_titles"] = config.people_titles
        filters["include_similar_titles"] = False
    if config.people_seniorities:
        filters["person_seniorities"] = config.people_seniorities
    found = []
    for person in client.search_people(per_page=config.people_per_company, **filters):
        found.append(person)
        if len(found) >= config.people_per_company:
            break
    return found


def _reveal(
    client: Any, people: list[dict], credits_left: int, notes: list[str]
) -> tuple[list[dict], int]:
    """Bulk match ≤ 10 at a time, never more people in a call than credits left (a match
    costs at most 1 credit), so the budget cannot be passed."""
    revealed, spent, start = [], 0, 0
    while start < len(people):
        room = min(BULK, credits_left - spent)
        if room <= 0:
            notes.append(
                f"People: stopped revealing emails at the monthly budget "
                f"({len(people) - start} people not revealed)"
            )
            break
        chunk = people[start : start + room]
        start += len(chunk)
        matches = client.bulk_match_people([{"id": p["person"]["id"]} for p in chunk])
        for item, match in zip(chunk, matches, strict=True):
            if match:
                spent += 1
                revealed.append({**item, "person": match})
    return revealed, spent


def _row(item: dict) -> dict[str, str]:
    person = item["person"]
    return {
        "Email": person.get("email") or "",
        "First Name": person.get("first_name") or "",
        "Last Name": person.get("last_name") or "",
        "Job Title": person.get("title") or "",
        "Company Name": item["company_name"],
        "Website": item["domain"],
        "HubSpot Company Id": item["company_id"],
    }


def people_find(*, run_id: int) -> int:
    """Returns the contacts created or updated; notes what was skipped or stopped."""
    run = Run.objects.select_related("workflow").get(pk=run_id)
    config = EnrichmentSettings.objects.get(workflow=run.workflow)
    if not config.people_enabled or config.people_contact_workflow_id is None:
        return 0
    apollo = run.workflow.enrichment_sources.filter(name="apollo").first()
    if apollo is None:
        return 0
    info = EnrichmentRun.objects.get(run=run)
    notes: list[str] = []
    client = client_for(apollo.connection)
    try:
        found = [
            {"person": p, "company_id": cid, "domain": domain, "company_name": name}
            for cid, domain, name in _targets(run, config)
            for p in _search(client, domain, config)
        ]
        spent = 0
        if config.people_reveal_emails and found:
            _calls, _credits, people_spent = usage_spent(connection_id=apollo.connection_id)
            left = max(0, config.people_monthly_credits - people_spent)
            found, spent = _reveal(client, found, left, notes)
            usage_record(
                connection_id=apollo.connection_id, calls=0, credits=0, people_credits=spent
            )
    except ProviderError as error:
        notes.append(f"People: Apollo {error.kind}: {str(error)[:200]}")
        found, spent = [], 0
    finally:
        client.close()
    rows = [_row(item) for item in found if item["person"].get("email")]
    if len(rows) < len(found):
        notes.append(f"People: {len(found) - len(rows)} found without an email were not created")
    created = _contacts_load(run, config, rows) if rows else 0
    info.people_created = created
    info.credits_spent += spent
    info.notes = [*info.notes, *notes]
    info.save(update_fields=["people_created", "credits_spent", "notes"])
    return created


def _contacts_load(run: Run, config: EnrichmentSettings, rows: list[dict[str, str]]) -> int:
    """One webhook-style run of the contact workflow, run here (we are already in a worker),
    then one association per loaded contact."""
    from pipelines.services.runs import run_execute_inline
    from pipelines.services.staging import run_create

    contact_workflow = config.people_contact_workflow
    contact_run = run_create(
        workflow=contact_workflow,
        trigger=RunTrigger.WEBHOOK,
        actor_label=f"enrichment:{run.workflow.slug}",
        parent=None,
    )
    InboundEvent.objects.create(
        source="apollo",
        workflow=contact_workflow,
        connection=None,
        dedupe_key=f"apollo:enrichment-run:{run.pk}",
        event_id=f"enrichment-run-{run.pk}",
        payload=rows,
        received_at=timezone.now(),
        run=contact_run,
    )
    contact_run = run_execute_inline(run_id=contact_run.pk, honour_backoff=False)
    hubspot = client_for(contact_workflow.destination_connection)
    associated = 0
    try:
        for record in contact_run.records.filter(state=RecordState.LOADED).exclude(hubspot_id=""):
            company_id = (record.raw or {}).get("HubSpot Company Id")
            if company_id:
                hubspot.associate_default("contacts", record.hubspot_id, "companies", company_id)
                associated += 1
    finally:
        hubspot.close()
    return associated
