"""Apollo.io client: people match, organization enrichment, people API search (docs/reference/apollo.md).

Auth is the ``X-Api-Key`` header (docs/reference/apollo.md: ``x-api-key``; pass ``HeaderAuth("X-Api-Key", key)``) or
an OAuth ``BearerAuth``. Limits are plan-dependent fixed windows per minute, hour and day
(docs/reference/apollo.md#rate-limits): never hard-coded here; the caller configures ``ClientConfig.rate_limit`` from the
live headers or usage stats.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.errors import (
    AuthFailed,
    MissingScope,
    ProviderError,
    RateLimited,
    seconds_until_next,
)
from integrations.provider_client import ProviderClient
from integrations.transport import (
    ClientConfig,
    classify_response,
    json_or_none,
    parse_retry_after,
)

DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
MAX_BULK = 10  # bulk organization enrichment and bulk people match (docs/enrichment.md)
# docs/reference/apollo.md#endpoints: "100 records per page, up to 500 pages"
MAX_SEARCH_PAGES = 500
_WINDOW = re.compile(r"per (minute|hour|day)", re.I)
# Header pairs (window, requests-left). Daily has two spellings in the wild (docs/reference/apollo.md#rate-limits).
_LEFT_HEADERS = (
    ("day", "x-daily-requests-left"),
    ("day", "x-24-hour-requests-left"),
    ("hour", "x-hourly-requests-left"),
    ("minute", "x-minute-requests-left"),
)


def parse_error(response: httpx.Response, *, now: datetime | None = None) -> ProviderError | None:
    status = response.status_code
    if status < 400:
        return None
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    where = f"Apollo {response.request.method} -> {status}"
    if status == 429:
        return _rate_limited(response, body, where, now or datetime.now(UTC))
    if status == 401:  # text/plain "Invalid access credentials." (docs/reference/apollo.md#errors)
        return AuthFailed(f"{where}: credentials rejected", status=status)
    if status == 403:
        code = body.get("error_code")
        master = "Master API key" in str(body.get("error", ""))
        return MissingScope(
            f"{where}: {'master API key required' if master else code or 'endpoint not accessible'}",
            scope="master_api_key" if master else code,
            status=status,
            category=code,
        )
    error = classify_response(response, "Apollo")
    if error is not None:
        error.context = {"provider_message": str(body.get("error") or body.get("message") or "")}
    return error


def _rate_limited(
    response: httpx.Response, body: dict[str, Any], where: str, now: datetime
) -> RateLimited:
    """Which window ran out decides the wait: per minute → retry in-process after the window;
    per hour/day → pause the connection until the window resets (docs/reference/apollo.md#errors), not a quick retry.
    The windows are fixed (docs/reference/apollo.md#rate-limits); we assume they align with UTC boundaries. Cost if they do
    not: one more 429, which pauses again."""
    window = None
    if match := _WINDOW.search(str(body.get("message", ""))):
        window = match.group(1).lower()
    else:
        for name, header in _LEFT_HEADERS:
            if response.headers.get(header) == "0":
                window = name
                break
    retry_after = parse_retry_after(response.headers)
    if retry_after is None and window:
        retry_after = seconds_until_next(now, window)
    policy = {"minute": "MINUTE", "hour": "HOURLY", "day": "DAILY"}.get(window or "")
    return RateLimited(
        f"{where}: {window or 'rate'} limit reached",
        policy=policy,
        daily=window == "day",
        retry_after=retry_after,
        category=(body.get("error_details") or {}).get("code"),
    )


class ApolloClient(ProviderClient):
    provider = "Apollo"

    def __init__(
        self,
        config: ClientConfig,
        auth: Any = None,
        *,
        now: Callable[[], datetime] | None = None,
        **options: Any,
    ) -> None:
        self._now = now
        super().__init__(config, auth, **options)

    def error_parser(self) -> Callable[[httpx.Response], ProviderError | None]:
        return lambda r: parse_error(r, now=self._now() if self._now else None)

    def ping(self) -> dict[str, Any]:
        """ "Test connection": ``GET /auth/health`` answers ``{"is_logged_in": bool}`` without
        spending credits. Not in Apollo's docs (seen in public Apollo clients): if it proves
        wrong, switch to ``enrich_organization("apollo.io")`` at the cost of a credit."""
        body = json_or_none(self.http.request("GET", "/auth/health", headers=_JSON)) or {}
        if body.get("is_logged_in") is False:
            raise AuthFailed("Apollo GET /auth/health: key not accepted", status=200)
        return body

    def match_person(self, **params: Any) -> dict[str, Any] | None:
        """People enrichment, one person (``email``, ``first_name``, ``last_name``, ``domain``,
        ``linkedin_url``...). Consumes credits. No match is ``None`` (a skip, docs/reference/apollo.md#errors)."""
        if not any(params.values()):
            raise ValueError("match_person needs at least one identifying field")
        response = self.http.request("POST", "/people/match", json=params, headers=_JSON)
        return (json_or_none(response) or {}).get("person") or None

    def enrich_organization(self, domain: str) -> dict[str, Any] | None:
        """Organization by bare domain (no ``www.``, no ``@``, docs/reference/apollo.md#endpoints). No match is ``None``."""
        bare = domain.strip().lower().removeprefix("www.").split("@")[-1]
        response = self.http.request(
            "GET", "/organizations/enrich", params={"domain": bare}, headers=_JSON
        )
        return (json_or_none(response) or {}).get("organization") or None

    def bulk_enrich_organizations(self, domains: list[str]) -> dict[str, dict[str, Any]]:
        """Up to 10 organizations per call (``POST /organizations/bulk_enrich``,
        docs/enrichment.md), 1 credit per organization found. Returns found organizations by
        the bare domain asked for; a domain missing from the result is a no-match (a skip)."""
        bare = list(dict.fromkeys(_bare(d) for d in domains if d))
        if not bare or len(bare) > MAX_BULK:
            raise ValueError(f"Apollo bulk enrichment takes 1 to {MAX_BULK} domains per call")
        response = self.http.request(
            "POST",
            "/organizations/bulk_enrich",
            params={"domains[]": bare},  # repeated: domains[]=a.com&domains[]=b.com
            headers=_JSON,
        )
        found: dict[str, dict[str, Any]] = {}
        for org in (json_or_none(response) or {}).get("organizations") or []:
            if not isinstance(org, dict):
                continue
            keys = {_bare(str(org.get(k) or "")) for k in ("primary_domain", "website_url")}
            for domain in bare:
                if domain in keys:
                    found[domain] = org
        return found

    def bulk_match_people(self, details: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """Up to 10 people per call (``POST /people/bulk_match``); 1 credit per match.
        Answers in the order asked, None where nothing matched."""
        if not details or len(details) > MAX_BULK:
            raise ValueError(f"Apollo bulk match takes 1 to {MAX_BULK} people per call")
        response = self.http.request(
            "POST", "/people/bulk_match", json={"details": details}, headers=_JSON
        )
        matches = (json_or_none(response) or {}).get("matches") or []
        return [m if isinstance(m, dict) else None for m in matches] + [None] * (
            len(details) - len(matches)
        )

    def search_people(self, *, per_page: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """People API Search (no credits, master key): lazily over pages, at most 500 (docs/reference/apollo.md#endpoints)."""
        page = 1
        while page <= MAX_SEARCH_PAGES:
            body = {**filters, "page": page, "per_page": min(per_page, 100)}
            response = self.http.request(
                "POST", "/mixed_people/api_search", json=body, headers=_JSON
            )
            data = json_or_none(response) or {}
            people = data.get("people") or []
            yield from people
            total_pages = (data.get("pagination") or {}).get("total_pages") or 0
            if not people or page >= total_pages:
                return
            page += 1


def _bare(domain: str) -> str:
    """``https://www.Acme.com/x`` → ``acme.com``: how Apollo wants a domain (no www, no @)."""
    text = domain.strip().lower().split("@")[-1]
    text = text.removeprefix("http://").removeprefix("https://").split("/")[0]
    return text.removeprefix("www.")


_JSON = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
