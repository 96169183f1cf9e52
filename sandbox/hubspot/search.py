"""POST /crm/v3/objects/{type}/search (docs/reference/hubspot.md#search).

Filter groups are ORed, filters inside a group ANDed; ``after`` is a numeric offset and
paging to 10,000 or beyond is a 400 (docs/reference/hubspot.md#search, docs/reference/hubspot.md#paging). Limits: ≤5 groups, ≤6 filters per group,
≤18 filters in total (the reference's conservative intersection), ``limit`` ≤ 200.
"""

from __future__ import annotations

import fnmatch
import re
import time
from typing import TYPE_CHECKING, Any

from .associations import object_type
from .errors import validation_error
from .http import Reply, Request
from .schema import to_epoch_ms

if TYPE_CHECKING:
    from .app import HubSpotSandbox

MAX_LIMIT = 200
RESULT_CAP = 10_000
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_QUERY = 3000
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname",),
}


def _typed(prop: dict[str, Any] | None, value: Any) -> Any:
    """Compare numbers as numbers, dates as epoch ms, everything else case-insensitively."""
    text = "" if value is None else str(value)
    kind = (prop or {}).get("type")
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if kind in ("date", "datetime"):
        return to_epoch_ms(text)
    return text.lower()


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[\s@.,;:_\-/]+", text.lower()) if t}


def _matches(flt: dict[str, Any], rec: dict[str, Any], catalogue: dict[str, Any]) -> bool:
    name, op = flt["propertyName"], flt["operator"]
    stored = rec["properties"].get(name)
    present = stored not in (None, "")
    if op == "HAS_PROPERTY":
        return present
    if op == "NOT_HAS_PROPERTY":
        return not present
    if op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") and not present:
        return True
    if not present:
        return False
    prop = catalogue.get(name)
    value = _typed(prop, stored)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        wanted = str(flt.get("value", "")).lower()
        text = str(stored).lower()
        hit = (
            fnmatch.fnmatchcase(text, wanted)
            if "*" in wanted
            else (wanted == text or wanted in _tokens(text))
        )
        return hit if op == "CONTAINS_TOKEN" else not hit
    if op in ("IN", "NOT_IN"):
        hit = value in {_typed(prop, v) for v in flt.get("values") or []}
        return hit if op == "IN" else not hit
    target = _typed(prop, flt.get("value"))
    if op == "EQ":
        return value == target
    if op == "NEQ":
        return value != target
    if value is None or target is None:
        return False
    try:
        if op == "BETWEEN":
            high = _typed(prop, flt.get("highValue"))
            return high is not None and target <= value <= high
        return {
            "LT": value < target,
            "LTE": value <= target,
            "GT": value > target,
            "GTE": value >= target,
        }[op]
    except TypeError:
        return False


def _check_filters(groups: Any, catalogue: dict[str, Any]) -> list[list[dict[str, Any]]]:
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation_error(
            f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}",
            context={"filterGroups": [str(len(groups))]},
        )
    total = 0
    out = []
    for group in groups:
        filters = (group or {}).get("filters") or []
        total += len(filters)
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in a group ({len(filters)}); the maximum "
                f"is {MAX_FILTERS_PER_GROUP}"
            )
        for flt in filters:
            if flt.get("operator") not in OPERATORS:
                raise validation_error(
                    f"Unknown operator {flt.get('operator')!r}",
                    context={"operator": [str(flt.get("operator"))]},
                )
            if flt.get("propertyName") not in catalogue:
                raise validation_error(
                    f"There was a problem with the request. Property "
                    f"{flt.get('propertyName')!r} does not exist",
                    context={"propertyName": [str(flt.get("propertyName"))]},
                )
        out.append(filters)
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters ({total}); the maximum is {MAX_FILTERS}")
    return out


def _sort_key(prop: dict[str, Any] | None, rec: dict[str, Any], name: str) -> tuple[int, Any]:
    value = _typed(prop, rec["properties"].get(name)) if name in rec["properties"] else None
    return (1, 0) if value is None else (0, value)


def search(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    body = req.json_object()
    catalogue = sb.store.properties[obj]
    try:
        limit = int(body.get("limit") or 10)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise validation_error(f"Invalid limit or after: {exc}") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}")
    if offset >= RESULT_CAP:
        # docs/reference/hubspot.md#search: "Attempting to page beyond 10,000 will result in a 400 error."
        raise validation_error(
            f"Search results are capped at {RESULT_CAP:,}; paging beyond {RESULT_CAP:,} is not "
            f"possible (after={offset}). Narrow the query, e.g. by hs_object_id or a date window.",
            context={"after": [str(offset)]},
        )
    query = str(body.get("query") or "")
    if len(query) > MAX_QUERY:
        raise validation_error(f"query must be at most {MAX_QUERY} characters")
    groups = _check_filters(body.get("filterGroups") or [], catalogue)
    now = time.monotonic()
    hits = []
    for rec in sb.store.records[obj].values():
        if rec["archived"] or rec["visibleAt"] > now:  # eventual consistency (search_lag_ms)
            continue
        if groups and not any(all(_matches(f, rec, catalogue) for f in g) for g in groups):
            continue
        if query and not any(
            query.lower() in str(rec["properties"].get(p, "")).lower()
            for p in QUERY_PROPERTIES[obj]
        ):
            continue
        hits.append(rec)
    for sort in reversed(body.get("sorts") or []):
        # the spec types sorts as string[] (docs/reference/hubspot.md#search spec quirk)
        if isinstance(sort, str):
            name, descending = sort.lstrip("-"), sort.startswith("-")
        else:
            name = sort.get("propertyName", "")
            descending = sort.get("direction", "ASCENDING") == "DESCENDING"
        prop = catalogue.get(name)
        present = [r for r in hits if _sort_key(prop, r, name)[0] == 0]
        absent = [r for r in hits if _sort_key(prop, r, name)[0] == 1]
        present.sort(key=lambda r: _sort_key(prop, r, name)[1], reverse=descending)
        hits = present + absent
    page = hits[offset : offset + limit]
    properties = body.get("properties") or None
    out: dict[str, Any] = {
        "total": len(hits),
        "results": [sb.store.render(obj, r, properties) for r in page],
    }
    if offset + limit < len(hits):
        out["paging"] = {"next": {"after": str(offset + limit)}}
    return Reply(200, out)
