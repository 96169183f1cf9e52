"""Per-input results of HubSpot batch calls (docs/reference/hubspot.md#batch-endpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class InputSuccess:
    index: int | None  # position in the inputs we sent, when it could be matched back
    object_write_trace_id: str | None
    object_id: str
    new: bool  # upsert: True when HubSpot created the record (the run's created counter)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputFailure:
    index: int | None
    object_write_trace_id: str | None
    id: str | None  # the input's id / idProperty value named in the error's context.ids
    status: int | None
    category: str | None
    # HubSpot's own text: may quote the offending value (PII). For the dead-letter row only.
    message: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    http_status: int
    status: str | None  # PENDING | PROCESSING | CANCELED | COMPLETE
    succeeded: list[InputSuccess] = field(default_factory=list)
    failed: list[InputFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def unaccounted(self, input_count: int) -> list[int]:
        """Indexes of inputs neither reported as succeeded nor failed. For the invariant
        "records in = succeeded + dead-lettered + skipped", the caller must decide their fate
        (batch read: an id with no result and no error; a create without trace ids)."""
        seen = {r.index for r in self.succeeded} | {f.index for f in self.failed}
        return [i for i in range(input_count) if i not in seen]


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime  # aware, UTC
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type name, not a secret
    scopes: tuple[str, ...] = ()
    hub_id: int | None = None

    def __repr__(self) -> str:
        return f"TokenSet(access_token=****, refresh_token=****, expires_at={self.expires_at!r})"
