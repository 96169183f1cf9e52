"""Properties API (docs/reference/hubspot.md#properties) and Owners (docs/reference/hubspot.md#owners)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .associations import object_type
from .errors import ApiError, error_body, not_found, validation_error
from .http import Reply, Request
from .schema import custom_property

if TYPE_CHECKING:
    from .app import HubSpotSandbox

# docs/reference/hubspot.md#batch-endpoints: at most 10 hasUniqueValue properties per object
MAX_UNIQUE_PROPERTIES = 10


def list_properties(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """GET /crm/v3/properties/{type} → {results: [Property]}; no paging (docs/reference/hubspot.md#properties)."""
    obj = object_type(type_)
    archived = req.flag("archived")
    results = [p for p in sb.store.properties[obj].values() if p["archived"] == archived]
    return Reply(200, {"results": results})


def read_property(sb: HubSpotSandbox, req: Request, type_: str, name: str) -> Reply:
    prop = sb.store.properties[object_type(type_)].get(name)
    if prop is None:
        raise not_found(f"Unable to find property {name}", context={"propertyName": [name]})
    return Reply(200, prop)


def create_property(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """POST /crm/v3/properties/{type}: custom properties, e.g. a unique upsert key."""
    obj = object_type(type_)
    body = req.json_object()
    name = str(body.get("name") or "")
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise validation_error(f"Invalid property name {name!r}")
    if name in sb.store.properties[obj]:
        raise ApiError(409, error_body(f"A property named '{name}' already exists.", "CONFLICT"))
    if body.get("type", "string") not in {
        "bool",
        "date",
        "datetime",
        "enumeration",
        "number",
        "phone_number",
        "string",
    }:
        raise validation_error(f"Invalid property type {body.get('type')!r}")
    group = str(body.get("groupName") or "")
    if group and group not in sb.store.groups[obj]:
        # HubSpot refuses a property whose group does not exist (docs/sandbox.md).
        raise validation_error(
            f"Property group {group!r} does not exist", context={"groupName": [group]}
        )
    unique = sum(1 for p in sb.store.properties[obj].values() if p["hasUniqueValue"])
    if body.get("hasUniqueValue") and unique >= MAX_UNIQUE_PROPERTIES:
        raise validation_error(f"At most {MAX_UNIQUE_PROPERTIES} unique properties per object")
    prop = custom_property(body)
    sb.store.add_property(obj, prop)
    return Reply(201, prop)


def list_groups(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """GET /crm/v3/properties/{type}/groups → {results: [PropertyGroup]}."""
    return Reply(200, {"results": list(sb.store.groups[object_type(type_)].values())})


def create_group(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    """POST /crm/v3/properties/{type}/groups: ``name`` and ``label`` required,
    ``displayOrder`` optional (-1 = after the positive ones)."""
    obj = object_type(type_)
    body = req.json_object()
    name, label = str(body.get("name") or ""), str(body.get("label") or "")
    if not name or not label or not name.replace("_", "").isalnum() or name != name.lower():
        raise validation_error("A property group needs a lower-case name and a label")
    if name in sb.store.groups[obj]:
        raise ApiError(409, error_body(f"A group named '{name}' already exists.", "CONFLICT"))
    group = {
        "name": name,
        "label": label,
        "displayOrder": int(body.get("displayOrder", -1)),
        "archived": False,
    }
    sb.store.groups[obj][name] = group
    return Reply(201, group)


def _owner_page(owners: list[dict[str, Any]], req: Request, default_limit: int) -> Reply:
    try:
        limit = int(req.arg("limit") or default_limit)
        offset = int(req.arg("after") or 0)
    except ValueError as exc:
        raise validation_error(f"Invalid limit or after: {exc}") from exc
    if not 1 <= limit <= 500:
        raise validation_error("limit must be between 1 and 500")
    body: dict[str, Any] = {"results": owners[offset : offset + limit]}
    if offset + limit < len(owners):
        after = str(offset + limit)
        body["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return Reply(200, body)


def list_owners(sb: HubSpotSandbox, req: Request) -> Reply:
    """GET /crm/v3/owners?email=&after=&limit=(default 100)&archived=false (docs/reference/hubspot.md#owners)."""
    archived = req.flag("archived")
    email = (req.arg("email") or "").lower()
    owners = [
        o
        for o in sb.store.owners
        if o["archived"] == archived and (not email or o["email"].lower() == email)
    ]
    return _owner_page(owners, req, 100)


def read_owner(sb: HubSpotSandbox, req: Request, owner_id: str) -> Reply:
    """GET /crm/v3/owners/{ownerId}?idProperty=id|userId&archived=false."""
    key = "userId" if req.arg("idProperty") == "userId" else "id"
    archived = req.flag("archived")
    for owner in sb.store.owners:
        if str(owner[key]) == owner_id and owner["archived"] == archived:
            return Reply(200, owner)
    raise not_found(f"Owner {owner_id} not found", context={"id": [owner_id]})


def account_details(sb: HubSpotSandbox, req: Request) -> Reply:
    """GET /account-info/v3/details: the portal id and the time zone its daily limit resets in
    (https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details)."""
    zone = ZoneInfo(sb.config.time_zone)
    offset = datetime.now(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return Reply(
        200,
        {
            "portalId": sb.config.portal_id,
            "accountType": "STANDARD",
            "timeZone": sb.config.time_zone,
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
            "utcOffsetMilliseconds": minutes * 60_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        },
    )
