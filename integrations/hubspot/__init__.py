"""HubSpot CRM v3 client (providers.md §1-2)."""

from integrations.hubspot.client import HubSpotClient
from integrations.hubspot.errors import BatchRejected
from integrations.hubspot.types import BatchResult, InputFailure, InputSuccess, TokenSet

__all__ = [
    "BatchRejected",
    "BatchResult",
    "HubSpotClient",
    "InputFailure",
    "InputSuccess",
    "TokenSet",
]
