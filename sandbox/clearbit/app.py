"""ClearbitSandbox: ``GET /v2/companies/find?domain=`` for legacy keys.

The first lookup of a domain answers 202 (queued) and later ones 200 with the company
(``pending_lookups`` sets how many 202s come first; ``forever_pending`` never finishes);
an unknown domain is 404; 600 requests/minute with X-RateLimit-* headers; auth is a Bearer
token or Basic with the key as user. Sources and differences: docs/sandbox.md.
"""

from __future__ import annotations

import base64
from typing import Any

from sandbox.hubspot.http import Reply, Request
from sandbox.standin import StandIn, bare_domain, pick


def synthetic_company(domain: str) -> dict[str, Any]:
    employees = pick(domain, "cb-emp", (10, 40, 380, 900, 2200, 8000))
    return {
        "id": f"cb_{domain}",
        "name": domain.split(".")[0].title(),
        "domain": domain,
        "category": {
            "industry": pick(domain, "cb-ind", ("Internet Software & Services", "Banks", "Media")),
            "sector": "Information Technology",
        },
        "metrics": {
            "employees": employees,
            "employeesRange": "251-1K" if 250 < employees <= 1000 else "",
            "estimatedAnnualRevenue": "$10M-$50M",
            "annualRevenue": None,
        },
        "foundedYear": 2009,
        "geo": {"country": "United States", "countryCode": "US", "city": "San Francisco"},
        "tech": ["google_analytics", "salesforce"],
        "type": "private",
    }


class ClearbitSandbox(StandIn):
    name = "Clearbit"

    def __init__(
        self,
        *,
        per_minute: int = 600,
        pending_lookups: int = 1,
        forever_pending: bool = False,
        keys: set[str] | None = None,
        unknown_domains: set[str] | None = None,
        latency_ms: float = 0,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.per_minute = per_minute
        self.pending_lookups = pending_lookups
        self.forever_pending = forever_pending
        self.keys = keys
        self.unknown_domains = set(unknown_domains or ())
        self.seen: dict[str, int] = {}

    def _key(self, req: Request) -> str:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        if auth.startswith("Basic "):
            try:
                return base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except ValueError:
                return ""
        return ""

    def outage_reply(self, status: int) -> Reply:
        headers = [("Retry-After", "1")] if status == 429 else []
        return Reply(status, {"error": {"type": "server_error", "message": "outage"}}, headers)

    def handle(self, req: Request) -> Reply:
        key = self._key(req)
        if not key or (self.keys is not None and key not in self.keys):
            return Reply(401, {"error": {"type": "auth_required", "message": "API key invalid"}})
        window, left = self.windows.check("find", {"minute": self.per_minute})
        headers = [
            ("X-RateLimit-Limit", str(self.per_minute)),
            ("X-RateLimit-Remaining", str(left["minute"])),
            ("X-RateLimit-Reset", str(self.windows.seconds_to_reset("minute"))),
        ]
        if window is not None:
            return Reply(
                429, {"error": {"type": "rate_limit", "message": "Too many requests"}}, headers
            )
        if req.path.rstrip("/") != "/v2/companies/find":
            return Reply(404, {"error": {"type": "not_found", "message": "Unknown endpoint"}})
        domain = bare_domain(req.arg("domain") or "").removeprefix("www.")
        if not domain:
            return Reply(
                422, {"error": {"type": "invalid_domain", "message": "domain is required"}}, headers
            )
        if domain in self.unknown_domains or domain.startswith("unknown"):
            return Reply(
                404, {"error": {"type": "unknown_record", "message": "Unknown domain"}}, headers
            )
        self.seen[domain] = self.seen.get(domain, 0) + 1
        if self.forever_pending or self.seen[domain] <= self.pending_lookups:
            return Reply(202, {"error": {"type": "queued", "message": "Lookup queued"}}, headers)
        return Reply(200, synthetic_company(domain), headers)
