"""The route table: method, path pattern, handler, and the scope each call needs
(docs/reference/hubspot.md#oauth scope table)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import associations, batch, catalog, objects, search
from .schema import OBJECT_TYPE_IDS, OBJECT_TYPES


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    access: str  # read | write | schema-read | schema-write | owners
    is_search: bool = False


_OBJ = r"(?P<type_>[A-Za-z0-9_-]+)"
_V4 = r"(?P<frm>[A-Za-z0-9_-]+)"


def _r(
    method: str, path: str, handler: Callable[..., Any], access: str, is_search: bool = False
) -> Route:
    return Route(method, re.compile(f"^{path}$"), handler, access, is_search)


ROUTES = [
    _r("GET", "/account-info/v3/details", catalog.account_details, "account"),
    _r("POST", "/crm/v3/objects/contacts/gdpr-delete", objects.gdpr_delete, "write"),
    _r("POST", f"/crm/v3/objects/{_OBJ}/search", search.search, "read", is_search=True),
    _r("POST", f"/crm/v3/objects/{_OBJ}/batch/read", batch.batch_read, "read"),
    _r("POST", f"/crm/v3/objects/{_OBJ}/batch/create", batch.batch_create, "write"),
    _r("POST", f"/crm/v3/objects/{_OBJ}/batch/update", batch.batch_update, "write"),
    _r("POST", f"/crm/v3/objects/{_OBJ}/batch/upsert", batch.batch_upsert, "write"),
    _r("POST", f"/crm/v3/objects/{_OBJ}/batch/archive", batch.batch_archive, "write"),
    _r("GET", f"/crm/v3/objects/{_OBJ}", objects.list_objects, "read"),
    _r("POST", f"/crm/v3/objects/{_OBJ}", objects.create_object, "write"),
    _r("GET", f"/crm/v3/objects/{_OBJ}/(?P<object_id>[^/]+)", objects.read_object, "read"),
    _r("PATCH", f"/crm/v3/objects/{_OBJ}/(?P<object_id>[^/]+)", objects.update_object, "write"),
    _r("DELETE", f"/crm/v3/objects/{_OBJ}/(?P<object_id>[^/]+)", objects.archive_object, "write"),
    _r("GET", f"/crm/v3/properties/{_OBJ}/groups", catalog.list_groups, "schema-read"),
    _r("POST", f"/crm/v3/properties/{_OBJ}/groups", catalog.create_group, "schema-write"),
    _r("GET", f"/crm/v3/properties/{_OBJ}", catalog.list_properties, "schema-read"),
    _r("POST", f"/crm/v3/properties/{_OBJ}", catalog.create_property, "schema-write"),
    _r("GET", f"/crm/v3/properties/{_OBJ}/(?P<name>[^/]+)", catalog.read_property, "schema-read"),
    _r("GET", "/crm/v3/owners/?", catalog.list_owners, "owners"),
    _r("GET", "/crm/v3/owners/(?P<owner_id>[^/]+)", catalog.read_owner, "owners"),
    _r(
        "PUT",
        f"/crm/v4/objects/{_V4}/(?P<frm_id>[^/]+)/associations/default/(?P<to>[^/]+)"
        "/(?P<to_id>[^/]+)",
        associations.put_default,
        "write",
    ),
    _r(
        "GET",
        f"/crm/v4/objects/{_V4}/(?P<frm_id>[^/]+)/associations/(?P<to>[^/]+)",
        associations.list_v4,
        "read",
    ),
    _r(
        "POST",
        f"/crm/v4/associations/{_V4}/(?P<to>[^/]+)/batch/associate/(?P<mode>default)",
        associations.batch_associate,
        "write",
    ),
    _r(
        "POST",
        f"/crm/v4/associations/{_V4}/(?P<to>[^/]+)/batch/(?P<mode>create)",
        associations.batch_associate,
        "write",
    ),
    _r("GET", f"/crm/v4/associations/{_V4}/(?P<to>[^/]+)/labels", associations.labels, "read"),
]


# HubSpot's date-versioned paths put the version after the API name
# (/crm/objects/2026-03/contacts, /account-info/2026-03/details); the sandbox serves them as
# the v3 paths they replace.
DATE_VERSIONS = ("2025-09", "2026-03", "2026-09")
_DATED = re.compile(
    r"^/(?P<api>crm/objects|crm/properties|crm/owners|account-info)/(?P<version>\d{4}-\d{2})"
    r"(?P<rest>/.*|$)"
)


def undated(path: str) -> str:
    """``/crm/objects/2026-03/contacts`` → ``/crm/v3/objects/contacts``; other paths as they are."""
    match = _DATED.match(path)
    if match is None or match["version"] not in DATE_VERSIONS:
        return path
    api, rest = match["api"], match["rest"] or "/"
    if api == "account-info":
        return f"/account-info/v3{rest}"
    return f"/crm/v3/{api.removeprefix('crm/')}{rest}"


def resolve(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_known). path_known without a route means 405."""
    path = undated(path)
    known = False
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            known = True
            if route.method == method:
                return route, match.groupdict(), True
    return None, {}, known


def required_scopes(route: Route, params: dict[str, str]) -> list[str]:
    """Any one of the returned scopes suffices; [] means the type is unknown (handler 400s)."""
    if route.access == "owners":
        return ["crm.objects.owners.read"]
    if route.access == "account":
        return []  # account details need no particular scope
    segment = params.get("type_") or params.get("frm") or "contacts"
    obj = OBJECT_TYPE_IDS.get(segment, segment)
    if obj not in OBJECT_TYPES:
        return []
    return {
        "read": [f"crm.objects.{obj}.read"],
        "write": [f"crm.objects.{obj}.write"],
        "schema-read": [f"crm.objects.{obj}.read", f"crm.schemas.{obj}.read"],
        "schema-write": [f"crm.schemas.{obj}.write"],
    }[route.access]
