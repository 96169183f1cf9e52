"""HubSpot CRM v3 client (docs/reference/hubspot.md)."""

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
