"""The one exception normalizers and transforms raise for a bad value."""

from __future__ import annotations


class ValueRejected(Exception):
    """A value that cannot be normalized. `reason` is safe to log and show: it holds no PII."""

    def __init__(self, reason: str, *, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
