"""Reading leads from HubSpot: contacts and their companies, two batch reads per 100 contacts.

The company is found through the contact's ``associatedcompanyid`` (HubSpot's "primary
associated company ID" contact property), so no per-contact association call is needed:
one batch read of contacts, then one of their companies (docs/reference/hubspot.md#batch-endpoints, ≤100 inputs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

from pipelines.routing.rules import Lead

CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "country",
    "state",
    "city",
    "industry",
    "lifecyclestage",
    "hubspot_owner_id",
    "hs_email_domain",
    "numemployees",
    "associatedcompanyid",
]
COMPANY_PROPERTIES = [
    "name",
    "domain",
    "industry",
    "numberofemployees",
    "annualrevenue",
    "country",
    "state",
    "city",
]
BATCH = 100  # docs/reference/hubspot.md#batch-endpoints: max inputs per call
CATALOG_SECONDS = 600


def leads_fetch(
    *, client: Any, contact_ids: Iterable[str], extra: set[tuple[str, str]] = frozenset()
) -> dict[str, Lead]:
    """Lead per contact id found (missing contacts are absent from the result)."""
    ids = list(dict.fromkeys(str(i) for i in contact_ids))
    contact_props = sorted(set(CONTACT_PROPERTIES) | {p for obj, p in extra if obj == "contacts"})
    company_props = sorted(set(COMPANY_PROPERTIES) | {p for obj, p in extra if obj == "companies"})
    contacts: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH):
        result = client.batch_read("contacts", ids[start : start + BATCH], properties=contact_props)
        for row in result.succeeded:
            contacts[row.object_id] = row.properties
    company_ids = sorted(
        {str(p["associatedcompanyid"]) for p in contacts.values() if p.get("associatedcompanyid")}
    )
    companies: dict[str, dict[str, Any]] = {}
    for start in range(0, len(company_ids), BATCH):
        result = client.batch_read(
            "companies", company_ids[start : start + BATCH], properties=company_props
        )
        for row in result.succeeded:
            companies[row.object_id] = row.properties
    leads = {}
    for contact_id, props in contacts.items():
        company_id = str(props["associatedcompanyid"]) if props.get("associatedcompanyid") else None
        leads[contact_id] = Lead(
            contact_id, dict(props), company_id, dict(companies.get(company_id or "", {}))
        )
    return leads


def property_catalog(*, connection: Any) -> dict[str, set[str]]:
    """Property names per object type (docs/reference/hubspot.md#properties: one call per type, no paging), cached briefly
    so saving ten rules costs two calls, not twenty."""
    from integrations.registry import client_for

    key = f"switchyard:routing:properties:{connection.pk}"
    catalog = cache.get(key)
    if catalog is None:
        with client_for(connection) as client:
            catalog = {
                obj: {p["name"] for p in client.properties(obj)}
                for obj in ("contacts", "companies")
            }
        cache.set(key, catalog, CATALOG_SECONDS)
    return catalog


def unknown_properties(*, connection: Any, needed: set[tuple[str, str]]) -> list[str]:
    """Messages for every (object, property) HubSpot does not know. Raises ProviderError
    when HubSpot cannot be asked."""
    if not needed:
        return []
    catalog = property_catalog(connection=connection)
    return [
        f"unknown {obj[:-1] if obj == 'contacts' else 'company'} property {prop!r}: "
        f"HubSpot's {obj} have no property of that name"
        for obj, prop in sorted(needed)
        if prop not in catalog.get(obj, set())
    ]
