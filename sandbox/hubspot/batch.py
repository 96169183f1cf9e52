"""Batch endpoints (docs/reference/hubspot.md#batch-endpoints): read, create, update, upsert, archive.

Invalid values fail the whole batch with 400 VALIDATION_ERROR, unless the batch runs in
multi-status mode (every input carries a unique ``objectWriteTraceId``, or the sandbox is
configured so): then good inputs are written and the reply is 207 with one error per bad
input, carrying ``context.objectWriteTraceId``. An upsert matched on ``email`` is the
exception: HubSpot's references disagree on whether it may partly succeed, so by default it
fails whole (docs/sandbox.md, "Batch errors"). Each result echoes its input's
``objectWriteTraceId`` unless ``echo_trace_ids`` is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .associations import object_type, parse_inline
from .errors import PropertyProblem, error_body, property_problems_error, validation_error
from .http import Reply, Request
from .objects import check_write, conflict, non_unique_id_property, problems_400
from .schema import SINGULAR, email_is_valid, iso_now

if TYPE_CHECKING:
    from .app import HubSpotSandbox

MAX_INPUTS = 100  # docs/reference/hubspot.md#batch-endpoints (third-party source), enforced
# docs/reference/hubspot.md#batch-endpoints: batch read with propertiesWithHistory
MAX_HISTORY_INPUTS = 50


def _inputs(req: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = req.json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: inputs must be a list of objects")
    if len(inputs) > MAX_INPUTS:
        # docs/reference/hubspot.md#batch-endpoints: "Batch input size must be <= 100".
        raise validation_error(
            f"Batch input size must be <= {MAX_INPUTS}", context={"size": [str(len(inputs))]}
        )
    return body, inputs


def _multi_status(
    sb: HubSpotSandbox, inputs: list[dict[str, Any]], *, email_upsert: bool = False
) -> bool:
    """Multi-status is enabled by giving each input a unique objectWriteTraceId; an upsert
    by email is refused whole unless the sandbox is set to answer 207."""
    mode = sb.config.batch_error_mode
    if mode != "auto":
        return mode == "per_input_207_with_trace_id"
    if email_upsert:
        return False
    traces = [i.get("objectWriteTraceId") for i in inputs]
    return bool(traces) and all(traces) and len(set(map(str, traces))) == len(traces)


def _envelope(results: list[Any], errors: list[dict[str, Any]], ok: int) -> Reply:
    """BatchResponseSimplePublic…[WithErrors] (docs/reference/hubspot.md#batch-endpoints)."""
    now = iso_now()
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": now,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return Reply(207 if errors else ok, body)


def _trace(item: dict[str, Any]) -> str | None:
    trace = item.get("objectWriteTraceId")
    return None if trace is None else str(trace)


def _echo(sb: HubSpotSandbox, out: dict[str, Any], trace: str | None) -> dict[str, Any]:
    """A result carries its input's objectWriteTraceId (SimplePublicObject, docs/reference/hubspot.md#batch-endpoints)."""
    if trace is not None and sb.config.echo_trace_ids:
        out["objectWriteTraceId"] = trace
    return out


def _not_found(obj: str, ids: list[str], trace: str | None = None) -> dict[str, Any]:
    context: dict[str, list[str]] = {"ids": ids}
    if trace is not None:
        context["objectWriteTraceId"] = [trace]
    return error_body(
        f"Could not get some {SINGULAR[obj]} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "OBJECT_NOT_FOUND",
        context=context,
    )


def _duplicates(keys: list[str]) -> None:
    seen: set[str] = set()
    repeated: set[str] = set()
    for key in keys:
        if key in seen:
            repeated.add(key)
        seen.add(key)
    dupes = sorted(repeated)
    if dupes:
        # docs/reference/hubspot.md#batch-endpoints: two inputs resolving to the same record make HubSpot reject the batch.
        raise validation_error(
            f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. IDs must be unique",
            context={"ids": dupes},
        )


def batch_read(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    body, inputs = _inputs(req)
    history = body.get("propertiesWithHistory") or []
    if history and len(inputs) > MAX_HISTORY_INPUTS:
        raise validation_error(
            "The maximum number of inputs supported in a batch request for property histories "
            "is 50. Please reduce the number of items and try again"
        )
    id_property = body.get("idProperty")
    if (
        id_property
        and id_property != "hs_object_id"
        and id_property not in sb.store.indexed_properties(obj)
    ):
        raise non_unique_id_property(sb, obj, id_property)
    properties = body.get("properties") or None
    results, missing = [], []
    for item in inputs:
        rec = sb.store.find(
            obj, str(item.get("id", "")), id_property, archived=req.flag("archived")
        )
        if rec is None:
            missing.append(str(item.get("id", "")))
            continue
        out = sb.store.render(obj, rec, properties)
        if history:
            out["propertiesWithHistory"] = {
                name: (
                    [
                        {
                            "value": rec["properties"][name],
                            "timestamp": rec["updatedAt"],
                            "sourceType": "API",
                        }
                    ]
                    if name in rec["properties"]
                    else []
                )
                for name in history
            }
        results.append(out)
    return _envelope(results, [_not_found(obj, missing)] if missing else [], 200)


def batch_create(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    _body, inputs = _inputs(req)
    per_input = _multi_status(sb, inputs)
    errors, bad_problems, ready = [], [], []
    for item in inputs:
        cleaned, problems = check_write(sb, obj, item.get("properties", {}))
        pairs, message = parse_inline(sb, obj, item.get("associations"))
        if message:
            problems.append(PropertyProblem("associations", "INVALID_ASSOCIATION", message))
        if problems:
            bad_problems += problems
            errors.append(property_problems_error(problems, trace_id=_trace(item)))
        else:
            ready.append((cleaned, pairs, _trace(item)))
    if errors and not per_input:
        raise problems_400(bad_problems)
    if obj == "contacts":
        emails = [c["email"] for c, _, _ in ready if c.get("email")]
        for email in emails:
            existing = sb.store.find(obj, email, "email")
            # docs/reference/hubspot.md#batch-endpoints: the whole request fails; only the first conflict is named
            if existing:
                raise conflict(sb, existing["id"], email)
        _duplicates(emails)
    results = []
    for cleaned, pairs, trace in ready:
        rec = sb.create_record(obj, cleaned)
        for type_id, to_id in pairs:
            sb.store.associate(obj, rec["id"], type_id, to_id)
        results.append(_echo(sb, sb.store.render(obj, rec, everything=True), trace))
    return _envelope(results, errors, 201)


def batch_update(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    _body, inputs = _inputs(req)
    unique = {n for n, p in sb.store.properties[obj].items() if p.get("hasUniqueValue")}
    for item in inputs:
        id_property = item.get("idProperty")
        # docs/reference/hubspot.md#batch-endpoints: a per-input idProperty only for hasUniqueValue properties (email is not one).
        if id_property and id_property != "hs_object_id" and id_property not in unique:
            raise non_unique_id_property(sb, obj, id_property)
    _duplicates([f"{i.get('idProperty') or ''}:{i.get('id')}".lstrip(":") for i in inputs])
    per_input = _multi_status(sb, inputs)
    errors, bad_problems, ready = [], [], []
    for item in inputs:
        object_id = str(item.get("id", ""))
        rec = sb.store.find(obj, object_id, item.get("idProperty"))
        cleaned, problems = check_write(sb, obj, item.get("properties", {}))
        if problems:
            bad_problems += problems
            errors.append(
                property_problems_error(problems, trace_id=_trace(item), input_id=object_id)
            )
        elif rec is None:
            errors.append(_not_found(obj, [object_id], _trace(item)))
        else:
            ready.append((rec, cleaned, _trace(item)))
    if bad_problems and not per_input:
        raise problems_400(bad_problems)
    for rec, cleaned, _ in ready:
        if obj == "contacts" and cleaned.get("email"):
            other = sb.store.find(obj, cleaned["email"], "email")
            if other and other["id"] != rec["id"]:
                raise conflict(sb, other["id"], cleaned["email"])
    results = [
        _echo(sb, sb.store.render(obj, sb.store.update(obj, rec, cleaned), everything=True), trace)
        for rec, cleaned, trace in ready
    ]
    return _envelope(results, errors, 200)


def batch_upsert(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    _body, inputs = _inputs(req)
    default_id_property = req.arg("idProperty")  # companies/deals docs mention a query param
    allowed = sb.store.indexed_properties(obj)  # hasUniqueValue, or email for contacts
    keys = []
    for item in inputs:
        id_property = item.get("idProperty") or default_id_property
        if id_property == "hs_object_id" or (id_property and id_property not in allowed):
            raise non_unique_id_property(sb, obj, id_property)
        if item.get("id") in (None, ""):
            raise validation_error("Every upsert input needs an id")
        value = str(item["id"]).strip()
        keys.append(value.lower() if id_property else value)
    _duplicates(keys)
    by_email = obj == "contacts" and any(
        (i.get("idProperty") or default_id_property) == "email" for i in inputs
    )
    per_input = _multi_status(sb, inputs, email_upsert=by_email)
    errors, bad_problems, ready = [], [], []
    for item in inputs:
        id_property = item.get("idProperty") or default_id_property
        value = str(item["id"]).strip()
        cleaned, problems = check_write(
            sb,
            obj,
            item.get("properties", {}),
            extra_email=value if id_property == "email" else None,
        )
        if (
            id_property == "email"
            and not email_is_valid(value)
            and not any(p.name == "email" and p.error == "INVALID_EMAIL" for p in problems)
        ):
            problems.append(
                PropertyProblem("email", "INVALID_EMAIL", f"Email address {value} is invalid")
            )
        rec = sb.store.find(obj, value, id_property)
        if problems:
            bad_problems += problems
            errors.append(property_problems_error(problems, trace_id=_trace(item), input_id=value))
        elif rec is None and not id_property:
            errors.append(_not_found(obj, [value], _trace(item)))
        else:
            if id_property:
                cleaned.setdefault(id_property, value.lower() if id_property == "email" else value)
            ready.append((rec, cleaned, _trace(item)))
    if bad_problems and not per_input:
        raise problems_400(bad_problems)
    results = []
    for rec, cleaned, trace in ready:
        if rec is None:
            out = sb.store.render(obj, sb.create_record(obj, cleaned), everything=True)
            out["new"] = True
        else:
            out = sb.store.render(obj, sb.store.update(obj, rec, cleaned), everything=True)
            out["new"] = False
        results.append(_echo(sb, out, trace))
    return _envelope(results, errors, 200)


def batch_archive(sb: HubSpotSandbox, req: Request, type_: str) -> Reply:
    obj = object_type(type_)
    _body, inputs = _inputs(req)
    for item in inputs:
        rec = sb.store.find(obj, str(item.get("id", "")))
        if rec is not None:
            sb.store.archive(obj, rec)
    return Reply(204)
