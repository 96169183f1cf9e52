"""Single-record CRM endpoints (docs/reference/hubspot.md#objects-and-properties): list, read, create, update, archive,
GDPR delete; plus the write checks the batch endpoints share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .associations import object_type, parse_inline, render_v3
from .errors import (
    ApiError,
    PropertyProblem,
    error_body,
    not_found,
    property_problems_message,
    validation_error,
)
from .http import Reply, Request
from .schema import SINGULAR, TYPE_ID, validate_properties

if TYPE_CHECKING:
    from .app import HubSpotSandbox

# docs/reference/hubspot.md#paging: not in the spec (third-party source), enforced
MAX_LIST_LIMIT = 100


def check_write(
    sb: HubSpotSandbox, obj: str, values: Any, extra_email: str | None = None
) -> tuple[dict[str, str | None], list[PropertyProblem]]:
    """Validate a ``properties`` object; also refuse emails on the GDPR blocklist."""
    cleaned, problems = validate_properties(sb.store.properties[obj], values, sb.store.owner_ids())
    if obj == "contacts":
        for email in {cleaned.get("email"), (extra_email or "").lower() or None} - {None}:
            if email in sb.store.blocklist:
                # docs/reference/hubspot.md#objects-and-properties: a GDPR-deleted email is blocklisted "and prevent[ed] from being used in
                # the future"; the exact error HubSpot gives is not in the reference.
                problems.append(
                    PropertyProblem(
                        "email",
                        "EMAIL_BLOCKLISTED",
                        f"Email address {email} was permanently deleted (GDPR) and cannot be used",
                    )
                )
    return cleaned, problems


def problems_400(problems: list[PropertyProblem]) -> ApiError:
    """Whole-request 400 VALIDATION_ERROR naming every bad value (docs/reference/hubspot.md#value-formats message form)."""
    return validation_error(
        property_problems_message(problems),
        context={"propertyName": sorted({p.name for p in problems})},
        errors=[{"message": p.message, "code": p.error, "in": p.name} for p in problems],
    )


def conflict(sb: HubSpotSandbox, existing_id: str, email: str) -> ApiError:
    """409 for an existing email (docs/reference/hubspot.md#batch-endpoints): the 2021 CONFLICT body or the newer
    OBJECT_ALREADY_EXISTS one, per ``conflict_category``."""
    message = f"Contact already exists. Existing ID: {existing_id}"
    if sb.config.conflict_category == "OBJECT_ALREADY_EXISTS":
        body = error_body(
            message,
            "OBJECT_ALREADY_EXISTS",
            errors=[
                {
                    "message": f"A contact with email {email} already exists. "
                    f"Existing ID: {existing_id}",
                    "in": "email",
                }
            ],
            error="CONTACT_EXISTS",
            identityProfile={"vid": int(existing_id)},
        )
    else:
        body = error_body(message, "CONFLICT")
    return ApiError(409, body)


def _page_link(after: str) -> dict[str, Any]:
    # docs/reference/hubspot.md#paging NextPage
    return {"next": {"after": after, "link": f"?after={after}"}}


def list_objects(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """GET /crm/v3/objects/{type}: limit ≤ 100 (default 10), ``after`` cursor = next id."""
    obj = object_type(type_)
    try:
        limit = int(req.arg("limit") or 10)
        after = int(req.arg("after") or 0)
    except ValueError as exc:
        raise validation_error(f"Invalid limit or after: {exc}") from exc
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise validation_error(
            f"limit must be between 1 and {MAX_LIST_LIMIT}", context={"limit": [str(limit)]}
        )
    archived = req.flag("archived")
    properties, assoc = req.arg_list("properties"), req.arg_list("associations")
    page: list[dict[str, Any]] = []
    next_after: str | None = None
    for rec in sb.store.records[obj].values():  # insertion order = ascending id
        if rec["archived"] != archived or int(rec["id"]) < after:
            continue
        if len(page) == limit:
            next_after = rec["id"]
            break
        page.append(rec)
    results = []
    for rec in page:
        item = sb.store.render(obj, rec, properties)
        if assoc:
            item["associations"] = render_v3(sb, obj, rec["id"], assoc)
        results.append(item)
    body: dict[str, Any] = {"results": results}
    if next_after:
        body["paging"] = _page_link(next_after)
    return Reply(200, body)


def _lookup(sb: HubSpotSandbox, req: Request, obj: str, object_id: str) -> dict[str, Any]:
    id_property = req.arg("idProperty")
    rec = sb.store.find(obj, object_id, id_property, archived=req.flag("archived"))
    if rec is None:
        raise not_found(
            "Object not found.  objectId are usually numeric.", context={"id": [object_id]}
        )
    return rec


def read_object(sb: HubSpotSandbox, req: Request, type_: str, object_id: str) -> Reply:
    """GET /crm/v3/objects/{type}/{id}[?idProperty=email&properties=&associations=]."""
    obj = object_type(type_)
    rec = _lookup(sb, req, obj, object_id)
    item = sb.store.render(obj, rec, req.arg_list("properties"))
    assoc = req.arg_list("associations")
    if assoc:
        item["associations"] = render_v3(sb, obj, rec["id"], assoc)
    return Reply(200, item)


def create_object(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """POST /crm/v3/objects/{type} → 201 SimplePublicObject; existing email → 409."""
    obj = object_type(type_)
    body = req.json_object()
    cleaned, problems = check_write(sb, obj, body.get("properties", {}))
    if problems:
        raise problems_400(problems)
    pairs, message = parse_inline(sb, obj, body.get("associations"))
    if message:
        raise validation_error(message)
    if obj == "contacts" and cleaned.get("email"):
        existing = sb.store.find(obj, cleaned["email"], "email")
        if existing:
            raise conflict(sb, existing["id"], cleaned["email"])
    rec = sb.create_record(obj, cleaned)
    for type_id, to_id in pairs:
        sb.store.associate(obj, rec["id"], type_id, to_id)
    return Reply(201, sb.store.render(obj, rec, everything=True))


def update_object(sb: HubSpotSandbox, req: Request, type_: str, object_id: str) -> Reply:
    """PATCH /crm/v3/objects/{type}/{id}[?idProperty=email]; read-only/unknown → 400."""
    obj = object_type(type_)
    rec = _lookup(sb, req, obj, object_id)
    cleaned, problems = check_write(sb, obj, req.json_object().get("properties", {}))
    if problems:
        raise problems_400(problems)
    if obj == "contacts" and cleaned.get("email"):
        other = sb.store.find(obj, cleaned["email"], "email")
        if other and other["id"] != rec["id"]:
            raise conflict(sb, other["id"], cleaned["email"])
    sb.store.update(obj, rec, cleaned)
    return Reply(200, sb.store.render(obj, rec, everything=True))


def archive_object(sb: HubSpotSandbox, req: Request, type_: str, object_id: str) -> Reply:
    """DELETE /crm/v3/objects/{type}/{id} → 204 (restorable in HubSpot; kept as archived)."""
    obj = object_type(type_)
    rec = sb.store.find(obj, object_id)
    if rec is not None:
        sb.store.archive(obj, rec)
    return Reply(204)


def gdpr_delete(sb: HubSpotSandbox, req: Request) -> Reply:
    """POST /crm/v3/objects/contacts/gdpr-delete → 204 (docs/reference/hubspot.md#objects-and-properties). Permanently removes the
    contact (archived or not); an email not found is added to the blocklist."""
    body = req.json_object()
    object_id = str(body.get("objectId") or "")
    if not object_id:
        raise validation_error("objectId is required")
    id_property = body.get("idProperty")
    rec = sb.store.find("contacts", object_id, id_property) or sb.store.find(
        "contacts", object_id, id_property, archived=True
    )
    if rec is None and id_property == "email":
        sb.store.blocklist.add(object_id.strip().lower())
    elif rec is None:
        raise not_found(
            f"Could not get some {SINGULAR['contacts']} objects", context={"ids": [object_id]}
        )
    else:
        sb.store.purge("contacts", rec)
    return Reply(204)


def non_unique_id_property(sb: HubSpotSandbox, obj: str, prop: str) -> ApiError:
    """docs/reference/hubspot.md#batch-endpoints: upsert/update by a property without hasUniqueValue is a whole-batch 400."""
    return validation_error(
        f"Unable to perform update/upsert by non-unique {TYPE_ID[obj]} property {prop} "
        f"in portal ID {sb.config.portal_id}",
        context={"idProperty": [prop]},
    )
