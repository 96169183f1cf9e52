"""BuiltWith technology lookup by domain (docs/reference/builtwith.md)."""

from integrations.builtwith.client import BuiltWithClient

__all__ = ["BuiltWithClient"]
