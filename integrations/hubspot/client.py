"""HubSpot CRM v3 client: contacts, companies, deals, owners, properties.

Every fact here is in docs/reference/hubspot.md (cited by section).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx

from integrations.errors import ProviderError, RequestRejected
from integrations.hubspot.errors import batch_rejection, parse_error
from integrations.hubspot.types import BatchResult, InputFailure, InputSuccess
from integrations.provider_client import ProviderClient
from integrations.transport import ClientConfig, json_or_none

DEFAULT_BASE_URL = "https://api.hubapi.com"
# Date versions ship in March and September (/crm/objects/2026-03/...).
DATE_VERSION = re.compile(r"20\d\d-(03|09)")
# docs/reference/hubspot.md#batch-endpoints: not in the spec; HubSpot answers "must be <= 100"
MAX_BATCH_INPUTS = 100
MAX_SEARCH_RESULTS = 10_000  # docs/reference/hubspot.md#search: paging past 10,000 is a 400
# docs/reference/hubspot.md#search, conservative
MAX_FILTER_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
# HUBSPOT_DEFINED association type ids, deal → contact / company (docs/reference/hubspot.md#associations; verify per portal).
DEAL_TO_CONTACT, DEAL_TO_COMPANY = 3, 341


class HubSpotClient(ProviderClient):
    """One portal, one credential. ``api_version`` is the only place the version segment lives
    (docs/reference/hubspot.md#base-url-and-versions: date-based versions such as "2026-03" are coming)."""

    provider = "HubSpot"

    def __init__(
        self,
        config: ClientConfig,
        auth: Any = None,
        *,
        api_version: str = "v3",
        now: Callable[[], datetime] | None = None,
        **options: Any,
    ) -> None:
        if api_version != "v3" and not DATE_VERSION.fullmatch(api_version):
            raise ValueError(
                f"HubSpot API version {api_version!r}: use v3 or a date version such as 2026-03"
            )
        self.api_version = api_version
        self._now = now
        super().__init__(config, auth, **options)

    def _path(self, api: str, resource: str = "") -> str:
        """Legacy ``/crm/v3/objects/…`` or HubSpot's date-versioned shape, where the version
        follows the API name: ``/crm/objects/2026-03/…`` (docs/connections.md, HubSpot)."""
        if self.api_version == "v3":
            return f"/crm/v3/{api}{resource}"
        return f"/crm/{api}/{self.api_version}{resource}"

    def error_parser(self) -> Callable[[httpx.Response], ProviderError | None]:
        return lambda r: parse_error(
            r, timezone=self.config.timezone, now=self._now() if self._now else None
        )

    def _objects(self, suffix: str = "") -> str:
        return self._path("objects", f"/{{type}}{suffix}")

    # -- reading ---------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """One cheap authenticated call for "test connection". 401 → AuthFailed, 403 →
        MissingScope naming the scope (crm.objects.contacts.read)."""
        response = self.http.request(
            "GET", self._objects(), path_params={"type": "contacts"}, params={"limit": 1}
        )
        headers = response.headers
        return {
            "ok": True,
            "burst_limit": _int(headers.get("X-HubSpot-RateLimit-Max")),
            "burst_remaining": _int(headers.get("X-HubSpot-RateLimit-Remaining")),
            "daily_limit": _int(headers.get("X-HubSpot-RateLimit-Daily")),  # absent for OAuth
            "daily_remaining": _int(headers.get("X-HubSpot-RateLimit-Daily-Remaining")),
        }

    def account_details(self) -> dict[str, Any]:
        """``GET /account-info/v3/details``: ``portalId`` and ``timeZone``, the zone in which
        the portal's daily limit resets. Needs no particular scope."""
        response = self.http.request("GET", f"/account-info/{self.api_version}/details")
        return json_or_none(response) or {}

    def list_objects(
        self, object_type: str, properties: list[str], *, limit: int = 100, archived: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every object, lazily: the next page is fetched only when the caller gets there."""
        params: dict[str, Any] = {
            # docs/reference/hubspot.md#objects-and-properties: max 100 (third-party source)
            "limit": min(limit, 100),
            "properties": ",".join(properties),
            "archived": str(archived).lower(),
        }
        yield from self._pages(self._objects(), {"type": object_type}, params)

    def owners(self) -> Iterator[dict[str, Any]]:
        """Active owners, then archived ones (each carries ``archived``), docs/reference/hubspot.md#owners."""
        for archived in ("false", "true"):
            yield from self._pages(self._path("owners"), {}, {"limit": 100, "archived": archived})

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        """Property definitions (docs/reference/hubspot.md#properties: one call, no paging)."""
        response = self.http.request(
            "GET", self._path("properties", "/{type}"), path_params={"type": object_type}
        )
        return list((json_or_none(response) or {}).get("results") or [])

    def _pages(
        self, template: str, path_params: dict[str, str], params: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            query = {**params, **({"after": after} if after else {})}
            response = self.http.request("GET", template, path_params=path_params, params=query)
            body = json_or_none(response) or {}
            yield from body.get("results") or []
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            # docs/reference/hubspot.md#paging: stop when paging or paging.next is absent
            if not after:
                return

    def search(
        self,
        object_type: str,
        *,
        filter_groups: list[dict[str, Any]] | None = None,
        sorts: list[dict[str, Any]] | None = None,
        properties: list[str] | None = None,
        limit: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Search lazily over every page, past HubSpot's 10,000-result cap.

        The cap (docs/reference/hubspot.md#search: "paging beyond 10,000 will result in a 400") is lifted by splitting:
        results are sorted by ``hs_object_id`` ascending, and when the next ``after`` would pass
        10,000 the query restarts at ``after=0`` with ``hs_object_id GT <last id>`` added to
        every filter group (the workaround docs/reference/hubspot.md#search names). Cost: one extra filter per group, so the
        caller gets one filter less per group (≤5 per group, ≤18 in all, docs/reference/hubspot.md#search), and custom
        ``sorts`` are refused because the split needs the id order. Search is eventually
        consistent (docs/reference/hubspot.md#search): do not use it to dedupe inside a run; use batch_read/batch_upsert.
        """
        if sorts and sorts != [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]:
            raise ValueError("search() sorts by hs_object_id to lift the 10,000 cap; sort locally")
        groups = filter_groups or []
        if (
            len(groups) > MAX_FILTER_GROUPS
            or any(len(g.get("filters", [])) + 1 > MAX_FILTERS_PER_GROUP for g in groups)
            or sum(len(g.get("filters", [])) + 1 for g in groups) > MAX_FILTERS
        ):
            raise ValueError("too many filters: ≤5 groups, ≤5 filters per group (one is ours)")
        last_id: str | None = None  # id of the last result yielded
        floor: str | None = None  # the GT bound of the current query (None: the first query)
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": _with_floor(groups, floor),
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "limit": min(limit, 200),  # docs/reference/hubspot.md#search: "up to 200"
            }
            if properties:
                body["properties"] = properties
            if after:
                body["after"] = after
            response = self.http.request(
                "POST",
                self._objects("/search"),
                path_params={"type": object_type},
                json=body,
                search=True,
            )
            page = json_or_none(response) or {}
            results = page.get("results") or []
            for result in results:
                last_id = str(
                    result.get("id") or (result.get("properties") or {}).get("hs_object_id")
                )
                yield result
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not results:
                return
            if after.isdigit() and int(after) + min(limit, 200) > MAX_SEARCH_RESULTS:
                after, floor = None, last_id  # restart below the cap from the last id seen

    def search_total(
        self, object_type: str, *, filter_groups: list[dict[str, Any]] | None = None
    ) -> int | None:
        """HubSpot's ``total`` for a search (one call, limit 1): what a full extract should
        hold. Search never counts archived records and is eventually consistent (docs/reference/hubspot.md#search)."""
        body = {"filterGroups": filter_groups or [], "limit": 1}
        response = self.http.request(
            "POST",
            self._objects("/search"),
            path_params={"type": object_type},
            json=body,
            search=True,
        )
        total = (json_or_none(response) or {}).get("total")
        return total if isinstance(total, int) else None

    def batch_read(
        self,
        object_type: str,
        ids: list[str],
        *,
        id_property: str | None = None,
        properties: list[str],
    ) -> BatchResult:
        """Read up to 100 objects by id or a unique property. Missing ids come back as
        207 errors (OBJECT_NOT_FOUND) in ``failed``."""
        _check_size(ids)
        body: dict[str, Any] = {"inputs": [{"id": str(i)} for i in ids], "properties": properties}
        if id_property:
            body["idProperty"] = id_property
        inputs = body["inputs"]
        response = self.http.request(
            "POST",
            self._objects("/batch/read"),
            path_params={"type": object_type},
            params={"archived": "false"},
            json=body,
        )
        return parse_batch(response, inputs, id_property=id_property)

    # -- writing ---------------------------------------------------------------------------

    def batch_upsert(
        self, object_type: str, inputs: list[dict[str, Any]], *, id_property: str = "email"
    ) -> BatchResult:
        """Create-or-update ≤100 inputs matched on ``id_property`` (docs/reference/hubspot.md#batch-endpoints). Each input is
        ``{"id": <match value>, "properties": {...}, "objectWriteTraceId": <RunRecord id>}``.
        Duplicates in one batch make HubSpot reject it (docs/reference/hubspot.md#batch-endpoints), so they are refused here."""
        _check_size(inputs)
        if id_property == "hs_object_id":
            raise ValueError("hs_object_id is not allowed as idProperty; use batch_update")
        keys = [str(i.get("id", "")).lower() for i in inputs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate match keys in one upsert batch; dedupe before load")
        sent = [{**i, "idProperty": i.get("idProperty", id_property)} for i in inputs]
        return self._write("/batch/upsert", object_type, sent, id_property=id_property)

    def batch_create(
        self, object_type: str, inputs: list[dict[str, Any]], *, id_property: str = "email"
    ) -> BatchResult:
        """Create ≤100 objects. Give each input a unique ``objectWriteTraceId`` or HubSpot
        fails the whole batch instead of answering 207 (docs/reference/hubspot.md#batch-endpoints). An existing e-mail fails the
        whole request with 409 → BatchRejected(existing_id=...). Prefer batch_upsert."""
        _check_size(inputs)
        return self._write(
            "/batch/create",
            object_type,
            inputs,
            id_property=id_property,
            new=True,
            idempotent=False,
        )

    def batch_update(
        self, object_type: str, inputs: list[dict[str, Any]], *, id_property: str | None = None
    ) -> BatchResult:
        """Update ≤100 objects by object id (``{"id": "512", "properties": {...}}``). An
        ``id_property`` must be a custom unique property: ``email`` fails (docs/reference/hubspot.md#batch-endpoints)."""
        _check_size(inputs)
        if id_property in ("email", "hs_object_id"):
            raise ValueError(f"batch/update cannot match on {id_property}; use batch_upsert")
        sent = [{**i, "idProperty": id_property} if id_property else i for i in inputs]
        return self._write("/batch/update", object_type, sent, id_property=id_property)

    def _write(
        self,
        suffix: str,
        object_type: str,
        inputs: list[dict[str, Any]],
        *,
        id_property: str | None,
        new: bool = False,
        idempotent: bool = True,
    ) -> BatchResult:
        try:
            response = self.http.request(
                "POST",
                self._objects(suffix),
                path_params={"type": object_type},
                json={"inputs": inputs},
                idempotent=idempotent,
            )
        except RequestRejected as error:
            if error.status in (400, 409):
                raise batch_rejection(error, inputs, id_property=id_property) from None
            raise
        return parse_batch(response, inputs, id_property=id_property, default_new=new)

    def create_deal(
        self, properties: dict[str, str], *, contact_id: str, company_id: str | None = None
    ) -> dict[str, Any]:
        """Create a deal associated inline with a contact (type 3) and company (341), docs/reference/hubspot.md#associations."""
        associations = [_association(contact_id, DEAL_TO_CONTACT)]
        if company_id:
            associations.append(_association(company_id, DEAL_TO_COMPANY))
        response = self.http.request(
            "POST",
            self._objects(),
            path_params={"type": "deals"},
            json={"properties": properties, "associations": associations},
            idempotent=False,  # a resend after a lost answer would create a second deal
        )
        return json_or_none(response) or {}

    def gdpr_delete_contact(self, email_or_id: str) -> None:
        """Permanently delete a contact (204). Unknown e-mails get blocklisted by HubSpot (docs/reference/hubspot.md#objects-and-properties)."""
        body: dict[str, str] = {"objectId": email_or_id}
        if "@" in email_or_id:
            body["idProperty"] = "email"
        self.http.request(
            "POST", self._objects("/gdpr-delete"), path_params={"type": "contacts"}, json=body
        )

    # -- company enrichment: counts, property groups, custom properties (docs/enrichment.md) --

    def property_groups(self, object_type: str) -> list[dict[str, Any]]:
        response = self.http.request(
            "GET",
            f"/crm/{self.api_version}/properties/{{type}}/groups",
            path_params={"type": object_type},
        )
        return list((json_or_none(response) or {}).get("results") or [])

    def create_property_group(
        self, object_type: str, *, name: str, label: str, display_order: int = -1
    ) -> dict[str, Any]:
        """``POST /properties/{type}/groups``: needs ``crm.schemas.{type}.write``."""
        response = self.http.request(
            "POST",
            f"/crm/{self.api_version}/properties/{{type}}/groups",
            path_params={"type": object_type},
            json={"name": name, "label": label, "displayOrder": display_order},
            idempotent=False,
        )
        return json_or_none(response) or {}

    def create_property(self, object_type: str, definition: dict[str, Any]) -> dict[str, Any]:
        """``POST /properties/{type}`` with name, label, type, fieldType, groupName."""
        response = self.http.request(
            "POST",
            f"/crm/{self.api_version}/properties/{{type}}",
            path_params={"type": object_type},
            json=definition,
            idempotent=False,
        )
        return json_or_none(response) or {}

    def associate_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """``PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}``: the
        unlabeled default association (contact → company), idempotent."""
        self.http.request(
            "PUT",
            "/crm/v4/objects/{frm}/{frm_id}/associations/default/{to}/{to_id}",
            path_params={"frm": from_type, "frm_id": from_id, "to": to_type, "to_id": to_id},
        )


def parse_batch(
    response: httpx.Response,
    inputs: list[dict[str, Any]],
    *,
    id_property: str | None,
    default_new: bool = False,
) -> BatchResult:
    """200/201/207 → per-input results, matched back by objectWriteTraceId, then by the id or
    ``id_property`` value (docs/reference/hubspot.md#batch-endpoints: "Match failures back to inputs through context.ids and/or the
    input's objectWriteTraceId")."""
    body = json_or_none(response) or {}
    by_trace = {
        str(i["objectWriteTraceId"]): n for n, i in enumerate(inputs) if i.get("objectWriteTraceId")
    }
    by_key: dict[str, int] = {}
    for n, item in enumerate(inputs):
        key = item.get("id") or (item.get("properties") or {}).get(id_property or "")
        if key:
            by_key[str(key).lower()] = n
    result = BatchResult(http_status=response.status_code, status=body.get("status"))
    for obj in body.get("results") or []:
        props = obj.get("properties") or {}
        trace = obj.get("objectWriteTraceId")
        index = by_trace.get(str(trace)) if trace else None
        if index is None:
            for candidate in (props.get(id_property or ""), obj.get("id")):
                if candidate and str(candidate).lower() in by_key:
                    index = by_key[str(candidate).lower()]
                    break
        result.succeeded.append(
            InputSuccess(
                index=index,
                object_write_trace_id=trace
                or (inputs[index].get("objectWriteTraceId") if index is not None else None),
                object_id=str(obj.get("id")),
                new=bool(obj.get("new", default_new)),
                properties=props,
            )
        )
    for err in body.get("errors") or []:
        result.failed.extend(_failures(err, inputs, by_trace, by_key))
    return result


def _failures(
    err: dict[str, Any],
    inputs: list[dict[str, Any]],
    by_trace: dict[str, int],
    by_key: dict[str, int],
) -> list[InputFailure]:
    context = err.get("context") or {}
    raw_status = str(err.get("status", ""))
    common = {
        "status": int(raw_status) if raw_status.isdigit() else None,
        "category": err.get("category"),
        "message": str(err.get("message") or ""),
        "context": context,
    }
    traces = [str(t) for t in context.get("objectWriteTraceId") or []]
    if err.get("id") and str(err["id"]) in by_trace:
        traces.append(str(err["id"]))
    matched: list[InputFailure] = []
    for trace in traces:
        index = by_trace.get(trace)
        matched.append(InputFailure(index=index, object_write_trace_id=trace, id=None, **common))
    for key in context.get("ids") or []:
        index = by_key.get(str(key).lower())
        trace = inputs[index].get("objectWriteTraceId") if index is not None else None
        if index is not None and any(f.index == index for f in matched):
            continue
        matched.append(
            InputFailure(index=index, object_write_trace_id=trace, id=str(key), **common)
        )
    return matched or [InputFailure(index=None, object_write_trace_id=None, id=None, **common)]


def _check_size(items: list[Any]) -> None:
    if len(items) > MAX_BATCH_INPUTS:
        raise ValueError(f"{len(items)} inputs: HubSpot batches take at most {MAX_BATCH_INPUTS}")
    if not items:
        raise ValueError("empty batch")


def _with_floor(groups: list[dict[str, Any]], last_id: str | None) -> list[dict[str, Any]]:
    if last_id is None:
        return groups
    floor = {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
    if not groups:
        return [{"filters": [floor]}]
    # Groups are ORed, filters ANDed (docs/reference/hubspot.md#search): the floor must be in every group.
    return [{**g, "filters": [*g.get("filters", []), floor]} for g in groups]


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
