"""Associations: inline on create (v3), read back with ``associations=``, and the v4
endpoints of docs/reference/hubspot.md#associations (default associate, batch create, list, labels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError, error_body, not_found, validation_error
from .http import Reply, Request
from .schema import OBJECT_TYPE_IDS, OBJECT_TYPES, TYPE_ID, iso_now
from .store import ASSOCIATION_TYPES, DEFAULT_ASSOCIATION

if TYPE_CHECKING:
    from .app import HubSpotSandbox


def object_type(segment: str) -> str:
    """``contacts``/``0-1`` → ``contacts``; an unknown type is a 400 as in HubSpot."""
    obj = OBJECT_TYPE_IDS.get(segment, segment)
    if obj not in OBJECT_TYPES:
        raise validation_error(f"Unable to infer object type from: {segment}")
    return obj


def parse_inline(
    sb: HubSpotSandbox, obj: str, specs: Any
) -> tuple[list[tuple[int, str]], str | None]:
    """Validate ``associations`` of a create body; return (typeId, toId) pairs or a message."""
    if not specs:
        return [], None
    if not isinstance(specs, list):
        return [], "associations must be a list"
    pairs: list[tuple[int, str]] = []
    for spec in specs:
        to_id = str((spec.get("to") or {}).get("id", "")) if isinstance(spec, dict) else ""
        for t in (spec.get("types") or []) if isinstance(spec, dict) else []:
            try:
                type_id = int(t.get("associationTypeId"))
            except (TypeError, ValueError):
                return [], f"invalid associationTypeId {t.get('associationTypeId')!r}"
            target = ASSOCIATION_TYPES.get((obj, type_id))
            if t.get("associationCategory", "HUBSPOT_DEFINED") != "HUBSPOT_DEFINED" or not target:
                return [], (
                    f"{type_id} is not a valid association type id from {TYPE_ID[obj]} ({obj})"
                )
            if sb.store.find(target[0], to_id) is None:
                return [], (
                    f"Association target {target[0]} {to_id} does not exist "
                    f"(associationTypeId {type_id})"
                )
            pairs.append((type_id, to_id))
    return pairs, None


def render_v3(sb: HubSpotSandbox, obj: str, rec_id: str, targets: list[str]) -> dict[str, Any]:
    """The v3 ``associations`` block: {toType: {results: [{id, type}]}}; empty types omitted."""
    block: dict[str, Any] = {}
    for target in targets:
        try:
            to = object_type(target)
        except ApiError:
            continue
        results = [
            {"id": to_id, "type": ASSOCIATION_TYPES[(obj, tid)][2]}
            for to_id, tids in sb.store.associated(obj, rec_id, to)
            for tid in tids
            if (obj, tid) in ASSOCIATION_TYPES
        ]
        if results:
            block[target] = {"results": results}
    return block


def _spec(type_id: int) -> dict[str, Any]:
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}


def _batch_envelope(results: list[Any], errors: list[dict[str, Any]], ok: int) -> Reply:
    now = iso_now()
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return Reply(207 if errors else ok, body)


def put_default(
    sb: HubSpotSandbox, req: Request, frm: str, frm_id: str, to: str, to_id: str
) -> Reply:
    """PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}."""
    frm, to = object_type(frm), object_type(to)
    if sb.store.find(frm, frm_id) is None or sb.store.find(to, to_id) is None:
        raise not_found(
            "One or both objects of the association do not exist", context={"ids": [frm_id, to_id]}
        )
    type_id = DEFAULT_ASSOCIATION[(frm, to)]
    sb.store.associate(frm, frm_id, type_id, to_id)
    inverse = ASSOCIATION_TYPES[(frm, type_id)][1]
    results = [
        {"from": {"id": frm_id}, "to": {"id": to_id}, "associationSpec": _spec(type_id)},
        {"from": {"id": to_id}, "to": {"id": frm_id}, "associationSpec": _spec(inverse)},
    ]
    return _batch_envelope(results, [], 200)


def batch_associate(sb: HubSpotSandbox, req: Request, frm: str, to: str, mode: str) -> Reply:
    """POST /crm/v4/associations/{from}/{to}/batch/associate/default and …/batch/create."""
    frm, to = object_type(frm), object_type(to)
    inputs = req.json_object().get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs must be a list")
    if len(inputs) > 100:
        raise validation_error("Batch input size must be <= 100")
    results: list[Any] = []
    errors: list[dict[str, Any]] = []
    for item in inputs:
        frm_id = str((item.get("from") or {}).get("id", ""))
        to_id = str((item.get("to") or {}).get("id", ""))
        if sb.store.find(frm, frm_id) is None or sb.store.find(to, to_id) is None:
            errors.append(
                error_body("Object not found", "OBJECT_NOT_FOUND", context={"ids": [frm_id, to_id]})
            )
            continue
        if mode == "default":
            type_ids = [DEFAULT_ASSOCIATION[(frm, to)]]
        else:
            type_ids = [int(t.get("associationTypeId", 0)) for t in item.get("types") or []]
        bad = [t for t in type_ids if ASSOCIATION_TYPES.get((frm, t), ("",))[0] != to]
        if bad or not type_ids:
            errors.append(
                error_body(
                    f"invalid association type ids {bad} from {frm} to {to}",
                    "VALIDATION_ERROR",
                    context={"ids": [frm_id]},
                )
            )
            continue
        for type_id in type_ids:
            sb.store.associate(frm, frm_id, type_id, to_id)
        if mode == "default":
            results += [
                {"from": {"id": frm_id}, "to": {"id": to_id}, "associationSpec": _spec(t)}
                for t in type_ids
            ]
        else:
            results.append(
                {
                    "fromObjectTypeId": TYPE_ID[frm],
                    "fromObjectId": int(frm_id),
                    "toObjectTypeId": TYPE_ID[to],
                    "toObjectId": int(to_id),
                    "labels": [
                        ASSOCIATION_TYPES[(frm, t)][3]
                        for t in type_ids
                        if ASSOCIATION_TYPES[(frm, t)][3]
                    ],
                }
            )
    return _batch_envelope(results, errors, 200 if mode == "default" else 201)


def list_v4(sb: HubSpotSandbox, req: Request, frm: str, frm_id: str, to: str) -> Reply:
    """GET /crm/v4/objects/{from}/{id}/associations/{to} (not in the reference's docs/reference/hubspot.md#associations list;
    shape as HubSpot's v4 API returns it)."""
    frm, to = object_type(frm), object_type(to)
    if sb.store.find(frm, frm_id) is None:
        raise not_found(f"No {frm} with id {frm_id}", context={"ids": [frm_id]})
    results = [
        {
            "toObjectId": int(to_id),
            "associationTypes": [
                {
                    "category": "HUBSPOT_DEFINED",
                    "typeId": t,
                    "label": ASSOCIATION_TYPES[(frm, t)][3],
                }
                for t in tids
            ],
        }
        for to_id, tids in sb.store.associated(frm, frm_id, to)
    ]
    return Reply(200, {"results": results})


def labels(sb: HubSpotSandbox, req: Request, frm: str, to: str) -> Reply:
    """GET /crm/v4/associations/{from}/{to}/labels (docs/reference/hubspot.md#associations: read the type ids, cache them)."""
    frm, to = object_type(frm), object_type(to)
    results = [
        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
        for (f, type_id), (t, _inv, _name, label) in sorted(
            ASSOCIATION_TYPES.items(), key=lambda kv: kv[0][1]
        )
        if f == frm and t == to
    ]
    return Reply(200, {"results": results})
