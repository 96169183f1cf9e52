"""BuiltWith Domain API (docs/reference/builtwith.md).

The API key travels as the ``KEY`` query parameter on every call (HTTPS only): pass
``QueryKeyAuth(key)``. The request log records path templates only and every message the
ProviderHTTP raises is masked (``KEY=****``), so the key never reaches logs, the admin or Sentry.
Limits (requests/s, concurrency, batch size) are per plan: read them from ``whoami()`` and
configure ``ClientConfig.rate_limit`` from it rather than hard-coding.
"""

from __future__ import annotations

from typing import Any

from integrations.provider_client import ProviderClient
from integrations.transport import ClientConfig, json_or_none

DEFAULT_BASE_URL = "https://api.builtwith.com"
MAX_LOOKUP_DOMAINS = 16  # docs/reference/builtwith.md: up to 16 domains per lookup
# docs/reference/builtwith.md speed flags
_FAST = {"HIDETEXT": "yes", "NOMETA": "yes", "NOPII": "yes", "NOATTR": "yes"}


class BuiltWithClient(ProviderClient):
    provider = "BuiltWith"

    def __init__(
        self, config: ClientConfig, auth: Any, *, api_version: str = "v22", **options: Any
    ) -> None:
        super().__init__(config, auth, **options)
        self.api_version = api_version

    def lookup(self, domains: str | list[str], *, fast: bool = True) -> dict[str, Any]:
        """Technologies of up to 16 domains: ``{"Results": [...], "Errors": [...]}``.
        Per-domain problems come back in ``Errors`` with a 200; they are returned, not raised."""
        names = [domains] if isinstance(domains, str) else list(domains)
        if not names or len(names) > MAX_LOOKUP_DOMAINS:
            raise ValueError(f"BuiltWith looks up 1 to {MAX_LOOKUP_DOMAINS} domains per call")
        params = {"LOOKUP": ",".join(names), **(_FAST if fast else {})}
        response = self.http.request("GET", f"/{self.api_version}/api.json", params=params)
        return json_or_none(response) or {}

    def company(self, domain: str) -> dict[str, Any] | None:
        """The first result for one domain, or None when BuiltWith knows nothing of it."""
        results = self.lookup(domain).get("Results") or []
        return results[0] if results else None

    def whoami(self) -> dict[str, Any]:
        """Account, ``max_batch_size`` and ``rate_limits``; also the "test connection" call."""
        return json_or_none(self.http.request("GET", "/whoamiv1/api.json")) or {}

    ping = whoami

    def usage(self) -> dict[str, Any]:
        return json_or_none(self.http.request("GET", "/usagev2/api.json")) or {}
