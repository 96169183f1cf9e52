"""Clearbit company lookup, legacy keys only (docs/reference/clearbit.md)."""

from integrations.clearbit.client import ClearbitClient, LookupPending

__all__ = ["ClearbitClient", "LookupPending"]
