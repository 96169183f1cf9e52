"""Clearbit Company API, for existing ("legacy") keys only (docs/reference/clearbit.md).

HubSpot bought Clearbit; no new keys are issued and the free tools are gone, so nothing in
Switchyard should depend on this client for new installs (docs/reference/clearbit.md recommendation).
"""

from __future__ import annotations

from typing import Any

from integrations.errors import ProviderError
from integrations.provider_client import ProviderClient
from integrations.transport import json_or_none

DEFAULT_BASE_URL = "https://company.clearbit.com"
# docs/reference/clearbit.md: 202 means "queued, retry later"; no documented delay
PENDING_RETRY_AFTER = 30.0


class LookupPending(ProviderError):
    """202: Clearbit queued the lookup. Retry the task later; nothing is wrong."""

    kind = "pending"
    default_permanent = False


class ClearbitClient(ProviderClient):
    """Auth: ``BearerAuth("sk_...")`` or ``BasicAuth("sk_...")`` (key as user, empty password)."""

    provider = "Clearbit"

    def company(self, domain: str) -> dict[str, Any] | None:
        """The company for ``domain``; None when Clearbit has no data (404, a skip)."""
        response = self.http.request(
            "GET", "/v2/companies/find", params={"domain": domain.strip().lower()}, accept=(404,)
        )
        if response.status_code == 404:
            return None
        if response.status_code == 202:
            raise LookupPending(
                "Clearbit lookup queued", status=202, retry_after=PENDING_RETRY_AFTER
            )
        return json_or_none(response) or None

    def ping(self) -> bool:
        """ "Test connection": there is no free endpoint in docs/reference/clearbit.md, so this looks up
        clearbit.com itself (one lookup of quota; 202/404 still prove the key works)."""
        try:
            self.company("clearbit.com")
        except LookupPending:
            pass
        return True
