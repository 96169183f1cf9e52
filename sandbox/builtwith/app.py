"""BuiltWithSandbox: the Domain API (``/v22/api.json``), whoami and usage.

≤ 16 domains per lookup, the key as the ``KEY`` query parameter, technologies with
categories and detection dates, an estimated monthly ``Spend``, per-domain problems in
``Errors[]`` with a 200, 10 requests/second, credit headers. Sources: docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.http import Reply, Request
from sandbox.standin import StandIn, bare_domain, pick

MAX_LOOKUP = 16
TECHNOLOGIES = (
    ("Salesforce", "CRM"),
    ("HubSpot", "Marketing Automation"),
    ("Marketo", "Marketing Automation"),
    ("Google Analytics", "Analytics"),
    ("Segment", "Analytics"),
    ("Stripe", "Payment"),
    ("Shopify", "Ecommerce"),
    ("Zendesk", "Customer Support"),
    ("Cloudflare", "CDN"),
    ("WordPress", "CMS"),
)


def synthetic_result(domain: str) -> dict[str, Any]:
    names = {pick(domain, f"bw{i}", TECHNOLOGIES) for i in range(4)}
    technologies = [
        {
            "Name": name,
            "Tag": category.lower().replace(" ", "-"),
            "Categories": [category],
            "FirstDetected": 1_546_300_800_000,
            "LastDetected": 1_764_547_200_000,
            "IsPremium": "yes" if name in ("Salesforce", "Marketo", "Zendesk") else "no",
        }
        for name, category in sorted(names)
    ]
    return {
        "Result": {
            "IsDB": "True",
            "Spend": pick(domain, "spend", (0, 250, 1200, 4800, 12000)),
            "Paths": [{"Domain": domain, "SubDomain": "", "Url": "", "Technologies": technologies}],
        },
        "Meta": None,
        "Lookup": domain,
    }


class BuiltWithSandbox(StandIn):
    name = "BuiltWith"

    def __init__(
        self,
        *,
        per_second: int = 10,
        credits: int = 100_000,
        keys: set[str] | None = None,
        unknown_domains: set[str] | None = None,
        latency_ms: float = 0,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.per_second = per_second
        self.credits = credits
        self.credits_used = 0
        self.keys = keys
        self.unknown_domains = set(unknown_domains or ())
        self.results: dict[str, dict[str, Any]] = {}

    def seed_technologies(self, domain: str, names: list[str], spend: int = 0) -> None:
        with self.lock:
            result = synthetic_result(domain)
            result["Result"]["Spend"] = spend
            result["Result"]["Paths"][0]["Technologies"] = [
                {"Name": n, "Tag": "", "Categories": [], "IsPremium": "no"} for n in names
            ]
            self.results[domain] = result

    def outage_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(
                429, {"Errors": [{"Message": "Too many requests"}]}, [("Retry-After", "1")]
            )
        return Reply(status, {"Errors": [{"Message": "Internal error"}]})

    def _headers(self) -> list[tuple[str, str]]:
        return [
            ("X-API-CREDITS-AVAILABLE", str(self.credits)),
            ("X-API-CREDITS-USED", str(self.credits_used)),
            ("X-API-CREDITS-REMAINING", str(self.credits - self.credits_used)),
        ]

    def handle(self, req: Request) -> Reply:
        key = req.arg("KEY") or ""
        if not key or (self.keys is not None and key not in self.keys):
            return Reply(401, {"Errors": [{"Message": "Invalid or missing API key"}]})
        window, _left = self.windows.check("all", {"second": self.per_second})
        if window is not None:
            return Reply(
                429, {"Errors": [{"Message": "Rate limit exceeded"}]}, [("Retry-After", "1")]
            )
        path = req.path.rstrip("/")
        if path == "/whoamiv1/api.json":
            return Reply(200, self._whoami())
        if path == "/usagev2/api.json":
            return Reply(
                200,
                {
                    "used": self.credits_used,
                    "purchased": self.credits,
                    "remaining": self.credits - self.credits_used,
                },
            )
        if path.endswith("/api.json") and path.startswith("/v2"):
            reply = self._lookup(req)
            reply.headers += self._headers()
            return reply
        return Reply(404, {"Errors": [{"Message": "Unknown endpoint"}]})

    def _whoami(self) -> dict[str, Any]:
        return {
            "account": {"name": "sandbox"},
            "max_batch_size": {"domain_lookup": MAX_LOOKUP, "bulk": 5000},
            "rate_limits": {"requests_per_second": self.per_second, "concurrency": 8},
            "credits": {"costs": {"domain_api": 1}},
        }

    def _lookup(self, req: Request) -> Reply:
        domains = [d for d in (req.arg("LOOKUP") or "").split(",") if d.strip()]
        if not domains:
            return Reply(
                200, {"Results": [], "Errors": [{"Lookup": "", "Message": "LOOKUP is required"}]}
            )
        if len(domains) > MAX_LOOKUP:
            return Reply(
                400,
                {
                    "Results": [],
                    "Errors": [{"Message": f"At most {MAX_LOOKUP} domains per lookup"}],
                },
            )
        results, errors = [], []
        for raw in domains:
            domain = bare_domain(raw).removeprefix("www.")
            if domain in self.unknown_domains or domain.startswith("unknown"):
                errors.append({"Lookup": domain, "Message": "No data for this domain"})
                continue
            results.append(self.results.get(domain) or synthetic_result(domain))
        self.credits_used += len(results)
        return Reply(200, {"Results": results, "Errors": errors})
