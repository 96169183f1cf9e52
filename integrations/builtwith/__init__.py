"""BuiltWith technology lookup by domain (providers.md §7.1)."""

from integrations.builtwith.client import BuiltWithClient

__all__ = ["BuiltWithClient"]
