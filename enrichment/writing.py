"""What a company's record writes to HubSpot, and the batch update itself.

Rules (docs/enrichment.md, "What is written"): only properties whose value differs from
HubSpot's; a non-empty HubSpot value is kept unless it is the value this workflow wrote last
(ours) or the field says ``overwrite: true`` (a rep's own edit wins by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.errors import ProviderError
from integrations.hubspot.errors import BatchRejected


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip() == str(b).strip()


@dataclass
class WritePlan:
    properties: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)  # property → "HubSpot's value kept"


def write_plan(
    *,
    winners: dict[str, Any],
    overwrite: dict[str, bool],
    current: dict[str, Any],
    ours: dict[str, Any],
) -> WritePlan:
    plan = WritePlan()
    for prop, value in winners.items():
        if value is None or _same(value, current.get(prop)):
            continue
        existing = current.get(prop)
        if existing not in (None, "") and not overwrite.get(prop):
            if not _same(existing, ours.get(prop)):
                plan.kept[prop] = "HubSpot already has a value (a person's edit is kept)"
                continue
        plan.properties[prop] = str(value)
    return plan


@dataclass
class WriteOutcome:
    written: set[str] = field(default_factory=set)  # company ids
    failed: dict[str, str] = field(default_factory=dict)  # company id → reason
    calls: int = 0


def companies_update(client: Any, updates: dict[str, dict[str, str]]) -> WriteOutcome:
    """Batch update ≤100 companies per call. A whole-batch rejection that names its inputs
    fails those and resends the rest; one that names none is split in halves until the bad
    input is alone, so one bad value never fails its neighbours."""
    out = WriteOutcome()
    ids = list(updates)
    for start in range(0, len(ids), 100):
        _update(client, ids[start : start + 100], updates, out)
    return out


def _update(client: Any, ids: list[str], updates: dict, out: WriteOutcome) -> None:
    if not ids:
        return
    inputs = [{"id": i, "properties": updates[i]} for i in ids]
    out.calls += 1
    try:
        result = client.batch_update("companies", inputs)
    except BatchRejected as rejected:
        blamed = [ids[i] for i in rejected.input_indexes if i < len(ids)]
        if not blamed and len(ids) == 1:
            blamed = ids
        for company_id in blamed:
            out.failed[company_id] = str(rejected)[:300]
        rest = [i for i in ids if i not in blamed]
        if blamed:
            _update(client, rest, updates, out)
        else:
            half = len(rest) // 2
            _update(client, rest[:half], updates, out)
            _update(client, rest[half:], updates, out)
        return
    except ProviderError as error:
        for company_id in ids:
            out.failed[company_id] = str(error)[:300]
        return
    for failure in result.failed:
        company_id = ids[failure.index] if failure.index is not None else failure.id
        if company_id:
            out.failed[str(company_id)] = failure.message[:300]
    for success in result.succeeded:
        out.written.add(str(success.object_id))
