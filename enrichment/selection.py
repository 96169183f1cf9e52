"""Which companies a run enriches: created (or modified) since the cursor through HubSpot's
search, given ids, or a CSV of target-account domains (creating the missing companies once).
Facts (search limits, the 10,000 cap, ms timestamps): docs/enrichment.md."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from enrichment.models import EnrichedCompany
from quality.addresses import normalize_domain
from quality.errors import ValueRejected

BASE_PROPERTIES = ["name", "domain", "createdate", "hs_lastmodifieddate"]
DOMAIN_COLUMNS = ("domain", "company domain", "website", "company website", "url")
MAX_DOMAINS = 50_000
IN_FILTER_VALUES = 100


@dataclass
class Selection:
    companies: list[dict[str, Any]] = field(default_factory=list)
    expected_total: int | None = None
    created: int = 0
    notes: list[str] = field(default_factory=list)


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def companies_since(
    client: Any, *, since: datetime, modified: bool, properties: list[str]
) -> Selection:
    """Companies created (or modified) at or after ``since``. The client's search pages 200 at
    a time and splits past the 10,000-result cap by ``hs_object_id``; ``total`` from the first
    page is what the completeness check compares with."""
    groups = [{"filters": [{"propertyName": "createdate", "operator": "GTE", "value": _ms(since)}]}]
    if modified:
        groups.append(
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": _ms(since)}
                ]
            }
        )
    expected = client.search_total("companies", filter_groups=groups)
    seen: dict[str, dict[str, Any]] = {}
    for company in client.search(
        "companies", filter_groups=groups, properties=properties, limit=200
    ):
        seen[str(company["id"])] = company
    return Selection(companies=list(seen.values()), expected_total=expected)


def companies_by_id(client: Any, *, ids: list[str], properties: list[str]) -> Selection:
    out = Selection(expected_total=len(set(ids)))
    unique = list(dict.fromkeys(str(i) for i in ids))
    for start in range(0, len(unique), 100):
        chunk = unique[start : start + 100]
        result = client.batch_read("companies", chunk, properties=properties)
        out.companies += [{"id": s.object_id, "properties": s.properties} for s in result.succeeded]
        if result.failed:
            out.notes.append(f"{len(result.failed)} company ids were not found in HubSpot")
    return out


def domains_read(data: bytes) -> tuple[list[str], list[str]]:
    """Normalized, de-duplicated domains from a CSV (a ``domain``/``website`` column, or the
    only column), and the problems with the rest, by line number."""
    text = data.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], ["the file is empty"]
    header = [h.strip().lower() for h in rows[0]]
    column = next((header.index(c) for c in DOMAIN_COLUMNS if c in header), None)
    body = rows[1:]
    if column is None:
        if len(header) != 1:
            return [], ["no column named domain or website"]
        column, body = 0, rows  # one column, no header: every line is a domain
    domains, problems = [], []
    for number, row in enumerate(body, start=2 if body is not rows else 1):
        if len(row) <= column or not row[column].strip():
            continue
        try:
            domains.append(normalize_domain(row[column]))
        except ValueRejected as refused:
            problems.append(f"line {number}: {refused.reason}")
    unique = list(dict.fromkeys(domains))
    if len(unique) > MAX_DOMAINS:
        return [], [f"at most {MAX_DOMAINS:,} domains per file"]
    return unique, problems


def companies_for_domains(
    client: Any, *, workflow_id: int, domains: list[str], properties: list[str], create: bool
) -> Selection:
    """Existing companies by domain, and (``create``) the missing ones created. HubSpot does
    not dedupe API-created companies by domain, and its search lags behind writes, so a
    company is looked up in what this workflow created before, then in search, and only then
    created — one domain, one company, however often the file is run."""
    out = Selection(expected_total=len(domains))
    known = dict(
        EnrichedCompany.objects.filter(workflow_id=workflow_id, domain__in=domains).values_list(
            "domain", "company_id"
        )
    )
    found: dict[str, dict[str, Any]] = {}
    wanted = [d for d in domains if d not in known]
    for start in range(0, len(wanted), IN_FILTER_VALUES):
        chunk = wanted[start : start + IN_FILTER_VALUES]
        groups = [{"filters": [{"propertyName": "domain", "operator": "IN", "values": chunk}]}]
        for company in client.search("companies", filter_groups=groups, properties=properties):
            domain = str((company.get("properties") or {}).get("domain") or "").lower()
            found.setdefault(domain, company)
    if known:
        out.companies += companies_by_id(
            client, ids=list(known.values()), properties=properties
        ).companies
    out.companies += list(found.values())
    missing = [d for d in wanted if d not in found]
    if missing and not create:
        out.notes.append(f"{len(missing)} domains have no HubSpot company (dry run: none created)")
    elif missing:
        out.companies += _companies_create(client, workflow_id=workflow_id, domains=missing)
        out.created = len(missing)
    return out


def _companies_create(client: Any, *, workflow_id: int, domains: list[str]) -> list[dict]:
    created = []
    for start in range(0, len(domains), 100):
        chunk = domains[start : start + 100]
        inputs = [
            {"properties": {"domain": d, "name": d.split(".")[0].title()}, "objectWriteTraceId": d}
            for d in chunk
        ]
        result = client.batch_create("companies", inputs, id_property="domain")
        for success in result.succeeded:
            domain = chunk[success.index] if success.index is not None else ""
            EnrichedCompany.objects.get_or_create(
                workflow_id=workflow_id,
                company_id=success.object_id,
                defaults={"domain": domain},
            )
            created.append({"id": success.object_id, "properties": {"domain": domain, "name": ""}})
    return created
