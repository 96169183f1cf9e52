"""Clearbit company lookup, legacy keys only (providers.md §7.2)."""

from integrations.clearbit.client import ClearbitClient, LookupPending

__all__ = ["ClearbitClient", "LookupPending"]
