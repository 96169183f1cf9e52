"""A generic HTTP receiver (a finance API) that verifies Standard Webhooks signatures and
counts deliveries. See docs/sandbox.md, "Finance receiver"."""

from .app import FinanceReceiver

__all__ = ["FinanceReceiver"]
