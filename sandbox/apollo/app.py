"""ApolloSandbox: the Apollo.io API subset Switchyard calls, under ``/api/v1``.

Endpoints: organization enrich (GET) and bulk enrich (≤ 10 domains), people match and bulk
match (≤ 10 details), People API Search (no credits), usage stats, auth health. Fixed
per-minute/hour/day windows with Apollo's headers, bulk endpoints at 1/10 of the single
ones, credits counted per enriched record. Sources and differences: docs/sandbox.md.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.hubspot.http import Reply, Request
from sandbox.standin import StandIn, bare_domain, pick

BULK_MAX = 10
INDUSTRIES = (
    "information technology & services",
    "computer software",
    "financial services",
    "marketing & advertising",
    "hospital & health care",
    "retail",
    "internet",
    "management consulting",
)
COUNTRIES = ("United States", "Germany", "United Kingdom", "France", "Canada", "Brazil")
TECHNOLOGIES = ("Salesforce", "HubSpot", "Google Analytics", "Marketo", "Zendesk", "Stripe", "AWS")
TITLES = (
    ("Chief Executive Officer", "c_suite", "executive"),
    ("VP of Sales", "vp", "sales"),
    ("Head of Revenue Operations", "head", "operations"),
    ("Director of Marketing", "director", "marketing"),
    ("Sales Manager", "manager", "sales"),
    ("Account Executive", "senior", "sales"),
)
FIRST = ("Maya", "Liam", "Noah", "Emma", "Olivia", "Lucas", "Sofia", "Ethan")
LAST = ("Patel", "Nguyen", "Garcia", "Kowalski", "Okafor", "Schmidt", "Rossi", "Tanaka")
SINGLE_LIMITS = {"minute": 200, "hour": 2000, "day": 6000}


def synthetic_organization(domain: str) -> dict[str, Any]:
    """A stable, plausible organization for any domain (same domain → same answer)."""
    stem = domain.split(".")[0]
    employees = pick(domain, "emp", (12, 45, 180, 420, 950, 2400, 7800, 15000))
    return {
        "id": "org_" + hashlib.sha256(domain.encode()).hexdigest()[:12],
        "name": stem.replace("-", " ").title(),
        "website_url": f"http://www.{domain}",
        "primary_domain": domain,
        "linkedin_url": f"http://www.linkedin.com/company/{stem}",
        "industry": pick(domain, "ind", INDUSTRIES),
        "estimated_num_employees": employees,
        "annual_revenue": float(employees * pick(domain, "rev", (90_000, 150_000, 240_000))),
        "annual_revenue_printed": None,
        "founded_year": pick(domain, "year", (1998, 2005, 2011, 2016, 2020)),
        "country": pick(domain, "country", COUNTRIES),
        "city": pick(domain, "city", ("Boston", "Berlin", "London", "Austin")),
        "technology_names": sorted({pick(domain, f"tech{i}", TECHNOLOGIES) for i in range(3)}),
    }


class ApolloSandbox(StandIn):
    name = "Apollo"

    def __init__(
        self,
        *,
        limits: dict[str, int] | None = None,
        keys: set[str] | None = None,
        unknown_domains: set[str] | None = None,
        people_per_company: int = 6,
        latency_ms: float = 0,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.limits = dict(limits or SINGLE_LIMITS)
        self.keys = keys
        self.unknown_domains = set(unknown_domains or ())
        self.people_per_company = people_per_company
        self.organizations: dict[str, dict[str, Any]] = {}
        self.credits_used = 0

    # --- seeding -----------------------------------------------------------------------
    def seed_organization(self, domain: str, **fields: Any) -> None:
        with self.lock:
            self.organizations[domain] = {**synthetic_organization(domain), **fields}

    def organization(self, domain: str) -> dict[str, Any] | None:
        domain = bare_domain(domain).removeprefix("www.")
        if domain in self.unknown_domains or domain.startswith("unknown"):
            return None
        return self.organizations.get(domain) or synthetic_organization(domain)

    def people(self, domain: str) -> list[dict[str, Any]]:
        org = self.organization(domain)
        if org is None:
            return []
        out = []
        for i in range(self.people_per_company):
            title, seniority, department = TITLES[i % len(TITLES)]
            first, last = pick(domain, f"f{i}", FIRST), pick(domain, f"l{i}", LAST)
            out.append(
                {
                    "id": f"p_{domain}_{i}",
                    "first_name": first,
                    "last_name": last,
                    "title": title,
                    "seniority": seniority,
                    "departments": [department],
                    "email": f"{first}.{last}@{domain}".lower(),
                    "organization": {"name": org["name"], "primary_domain": domain},
                }
            )
        return out

    # --- HTTP --------------------------------------------------------------------------
    def outage_reply(self, status: int) -> Reply:
        if status == 429:
            return self._limited("api/v1/organizations/enrich", "minute", 60)
        return Reply(status, {"error": "Something went wrong"})

    def handle(self, req: Request) -> Reply:
        key = req.headers.get("x-api-key") or req.headers.get("authorization", "")
        key = key.removeprefix("Bearer ").strip()
        if not key or (self.keys is not None and key not in self.keys):
            return Reply(401, raw=b"Invalid access credentials.", content_type="text/plain")
        route = (req.method, req.path.rstrip("/"))
        handlers = {
            ("GET", "/api/v1/auth/health"): lambda: Reply(200, {"is_logged_in": True}),
            ("GET", "/api/v1/organizations/enrich"): self._enrich,
            ("POST", "/api/v1/organizations/bulk_enrich"): self._bulk_enrich,
            ("POST", "/api/v1/people/match"): self._match,
            ("POST", "/api/v1/people/bulk_match"): self._bulk_match,
            ("POST", "/api/v1/mixed_people/api_search"): self._search,
            ("POST", "/api/v1/usage_stats/api_usage_stats"): self._usage,
        }
        handler = handlers.get(route)
        if handler is None:
            return Reply(404, {"error": "Not found"})
        endpoint = route[1].removeprefix("/")
        bulk = "bulk" in endpoint
        limits = {w: max(1, n // 10) if bulk else n for w, n in self.limits.items()}
        if not endpoint.endswith(("health", "api_usage_stats")):
            window, left = self.windows.check(endpoint, limits)
            if window is not None:
                return self._limited(endpoint, window, limits[window])
        else:
            left = self.windows.left(endpoint, limits)
        reply = handler(req)
        reply.headers += self._headers(limits, left)
        return reply

    def _headers(self, limits: dict[str, int], left: dict[str, int]) -> list[tuple[str, str]]:
        names = {
            "minute": ("minute", "minute"),
            "hour": ("hourly", "hourly"),
            "day": ("daily", "daily"),
        }
        out = []
        for window, (limit_name, usage_name) in names.items():
            if window in limits:
                out += [
                    (f"x-rate-limit-{limit_name}", str(limits[window])),
                    (f"x-{usage_name}-usage", str(limits[window] - left[window])),
                    (f"x-{usage_name}-requests-left", str(left[window])),
                ]
        return out

    def _limited(self, endpoint: str, window: str, limit: int) -> Reply:
        word = {"minute": "minute", "hour": "hour", "day": "day"}[window]
        message = (
            f"The maximum number of api calls allowed for {endpoint} is {limit} times per {word}. "
            "Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade"
            "?source=api_rate_limit."
        )
        left = {"minute": "x-minute-requests-left", "hour": "x-hourly-requests-left"}
        headers = [(left.get(window, "x-daily-requests-left"), "0")]
        return Reply(
            429,
            {
                "message": message,
                "error_details": {"code": "USAGE.RATE_LIMIT.API_RATE_LIMIT_EXCEEDED"},
            },
            headers,
        )

    def _enrich(self, req: Request) -> Reply:
        domain = req.arg("domain") or ""
        if not domain:
            return Reply(422, {"error": "domain is required"})
        org = self.organization(domain)
        if org is not None:
            self.credits_used += 1
        return Reply(200, {"organization": org})

    def _bulk_enrich(self, req: Request) -> Reply:
        body = _json(req)
        domains = req.query.get("domains[]") or [
            d.get("domain", "") for d in body.get("details") or [] if isinstance(d, dict)
        ]
        if not domains:
            return Reply(422, {"error": "domains[] or details[] is required"})
        if len(domains) > BULK_MAX:
            return _record_limit("domain")
        unique = list(dict.fromkeys(bare_domain(d) for d in domains))
        found = [o for o in (self.organization(d) for d in unique) if o is not None]
        self.credits_used += len(found)
        return Reply(
            200,
            {
                "status": "success",
                "error_code": None,
                "error_message": None,
                "total_requested_domains": len(domains),
                "unique_domains": len(unique),
                "unique_enriched_records": len(found),
                "missing_records": len(unique) - len(found),
                "organizations": found,
            },
        )

    def _person(self, details: dict[str, Any]) -> dict[str, Any] | None:
        domain = bare_domain(str(details.get("domain") or ""))
        person_id = str(details.get("id") or "")
        if not domain and person_id.startswith("p_"):
            domain = person_id[2:].rsplit("_", 1)[0]
        for person in self.people(domain) if domain else []:
            if person_id == person["id"] or (
                details.get("first_name", "").lower() == person["first_name"].lower()
                and details.get("last_name", "").lower() == person["last_name"].lower()
            ):
                return person
        return None

    def _match(self, req: Request) -> Reply:
        person = self._person(_json(req))
        if person is not None:
            self.credits_used += 1
        return Reply(200, {"person": person})

    def _bulk_match(self, req: Request) -> Reply:
        details = _json(req).get("details") or []
        if len(details) > BULK_MAX:
            return _record_limit("details")
        matches = [self._person(d) if isinstance(d, dict) else None for d in details]
        found = sum(1 for m in matches if m is not None)
        self.credits_used += found
        return Reply(
            200,
            {
                "status": "success",
                "total_requested_enrichments": len(details),
                "unique_enriched_records": found,
                "missing_records": len(details) - found,
                "credits_consumed": found,
                "matches": matches,
            },
        )

    def _search(self, req: Request) -> Reply:
        body = _json(req)
        domains = (
            body.get("q_organization_domains_list")
            or body.get("q_organization_domains_list[]")
            or []
        )
        titles = [t.lower() for t in body.get("person_titles") or []]
        seniorities = set(body.get("person_seniorities") or [])
        page, per_page = int(body.get("page") or 1), min(int(body.get("per_page") or 25), 100)
        hits = []
        for domain in domains[:1000]:
            for person in self.people(bare_domain(domain)):
                if titles and not any(t in person["title"].lower() for t in titles):
                    continue
                if seniorities and person["seniority"] not in seniorities:
                    continue
                hits.append(
                    {
                        "id": person["id"],
                        "first_name": person["first_name"],
                        "last_name_obfuscated": person["last_name"][0] + "***",
                        "title": person["title"],
                        "has_email": True,
                        "organization": {
                            "name": person["organization"]["name"],
                            "has_industry": True,
                        },
                    }
                )
        total_pages = max(1, -(-len(hits) // per_page))
        rows = hits[(page - 1) * per_page : page * per_page]
        return Reply(
            200,
            {
                "total_entries": len(hits),
                "people": rows,
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "total_entries": len(hits),
                    "total_pages": total_pages,
                },
            },
        )

    def _usage(self, req: Request) -> Reply:
        out = {}
        for endpoint in ("organizations/enrich", "organizations/bulk_enrich", "people/match"):
            key = f"api/v1/{endpoint}"
            left = self.windows.left(key, self.limits)
            out[f'["api/v1/{endpoint.split("/")[0]}", "{endpoint.split("/")[1]}"]'] = {
                w: {"limit": n, "consumed": n - left[w], "left_over": left[w]}
                for w, n in self.limits.items()
            }
        return Reply(200, out)


def _json(req: Request) -> dict[str, Any]:
    try:
        data = json.loads(req.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _record_limit(what: str) -> Reply:
    return Reply(
        400,
        {
            "error_code": "RECORD_LIMIT_EXCEEDED",
            "error_message": f"{what} count cannot be more than {BULK_MAX}",
        },
    )
