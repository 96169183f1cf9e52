"""Reading HubSpot's error bodies (docs/reference/hubspot.md#errors, #rate-limits) into typed errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.errors import (
    MissingScope,
    ProviderError,
    RateLimited,
    RequestRejected,
    ServerError,
    seconds_until_midnight,
)
from integrations.transport import classify_response, json_or_none, parse_retry_after

_POLICY_IN_MESSAGE = re.compile(r"reached your (\w+) limit", re.I)
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")
_DUPLICATE_IDS = re.compile(r"Duplicate IDs found in batch input:\s*\[([^\]]*)\]")
_INVALID_PROPERTIES = "Property values were not valid:"
_PROPERTY_ERRORS = {"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "READ_ONLY_PROPERTY"}


class BatchRejected(RequestRejected):
    """HubSpot refused a whole batch (400 VALIDATION_ERROR, or 409 on batch create).

    ``input_indexes`` are the inputs the body blames, matched through ``context.ids``, the
    "Duplicate IDs" list, or a property error whose value appears in the message. Dead-letter
    those and resend the rest; if it is empty the rejection could not be attributed (bisect).
    """

    def __init__(
        self,
        message: str,
        *,
        input_indexes: list[int],
        ids: list[str],
        invalid: list[dict[str, Any]],
        existing_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.input_indexes = input_indexes
        self.ids = ids
        self.invalid = invalid
        self.existing_id = existing_id


def _scopes(body: dict[str, Any]) -> list[str]:
    """Scopes named in a 403 body. HubSpot puts them in ``errors[].context`` under keys such as
    ``requiredGranularScopes`` (context maps str → [str], docs/reference/hubspot.md#errors); we take any
    context key that mentions "scope" so a renamed key still works."""
    found: list[str] = []
    contexts = [body.get("context") or {}]
    contexts += [
        (e or {}).get("context") or {} for e in body.get("errors") or [] if isinstance(e, dict)
    ]
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for key, values in ctx.items():
            if "scope" in key.lower():
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str) and value not in found:
                        found.append(value)
    return found


def parse_error(
    response: httpx.Response, *, timezone: str = "UTC", now: datetime | None = None
) -> ProviderError | None:
    status = response.status_code
    if status < 400:
        return None
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    raw_message = str(body.get("message") or "")
    category = body.get("category") or body.get("errorType")
    where = f"HubSpot {response.request.method} -> {status}"
    context = {
        "provider_message": raw_message,  # may quote values (PII): dead letters only, never logs
        "correlation_id": body.get("correlationId"),
        "hubspot_context": body.get("context") or {},
        "errors": body.get("errors") or [],
    }
    retry_after = parse_retry_after(response.headers)

    if status == 403:
        scopes = _scopes(body)
        named = f": needs {' or '.join(scopes)}" if scopes else ""
        return MissingScope(
            f"{where} {category or 'MISSING_SCOPES'}{named}",
            scope=scopes[0] if scopes else None,
            status=status,
            category=category,
            context={**context, "scopes": scopes},
        )
    if status == 429:
        policy = body.get("policyName")
        if not policy and (match := _POLICY_IN_MESSAGE.search(raw_message)):
            policy = match.group(1)
        policy = policy.upper() if policy else None
        if policy == "DAILY":
            # Retrying before the reset only burns calls and errors (≤5% error budget, docs/reference/hubspot.md#rate-limits).
            wait = seconds_until_midnight(now or datetime.now(UTC), timezone)
            return RateLimited(
                f"{where} daily limit reached",
                policy=policy,
                daily=True,
                retry_after=wait,
                category=category,
                context=context,
            )
        if retry_after is None and policy == "SECONDLY":
            # search: 5/s per account (docs/reference/hubspot.md#search); the SDK waits 1 s × attempt
            retry_after = 1.0
        if retry_after is None and policy == "TEN_SECONDLY_ROLLING":
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            retry_after = float(interval) / 1000 if interval and interval.isdigit() else 10.0
        return RateLimited(
            f"{where} {policy or 'rate'} limit reached",
            policy=policy,
            retry_after=retry_after,
            category=category,
            context=context,
        )
    if status == 423:
        # "Locked" on high-volume upserts: "include a delay of at least 2 seconds" (docs/reference/hubspot.md#errors).
        return RateLimited(
            f"{where} locked",
            policy="LOCKED",
            status=423,
            retry_after=max(2.0, retry_after or 0.0),
            category=category,
            context=context,
        )
    if status == 477:
        # Migration in progress; Retry-After "up to 24 h" (docs/reference/hubspot.md#errors). Long waits go to Celery.
        return ServerError(
            f"{where} migration in progress",
            status=477,
            retry_after=retry_after or 60.0,
            category=category,
            context=context,
        )
    error = classify_response(response, "HubSpot") or ServerError(where, status=status)
    if category:
        error.message = f"{error.message} {category}"
    error.category = category
    error.context = context
    return error


def _property_level(entry: dict[str, Any]) -> bool:
    """An error about the property (unknown, read-only), not about one input's value."""
    code = str(entry.get("error", "")).upper()
    return code in _PROPERTY_ERRORS or "does not exist" in str(entry.get("message", ""))


# An INVALID_OPTION message lists every allowed option after the bad value ("Bogus was not one
# of the allowed options: [subscriber, lead, ...]"); only the part before that list names the
# culprit, or a valid row whose value is "lead" would be dead-lettered alongside the bad one.
_OPTIONS_TAIL = re.compile(
    r"\s*(?:was not one of the allowed options|allowed options|: ?\[).*", re.S
)


def _names_value(entry: dict[str, Any], value: str) -> bool:
    if "invalidValue" in entry:
        return value == str(entry["invalidValue"])
    head = _OPTIONS_TAIL.sub("", str(entry.get("message", "")))
    return bool(re.search(rf"(?<![\w@.+-]){re.escape(value)}(?![\w@.+-])", head))


def batch_rejection(
    error: ProviderError, inputs: list[dict[str, Any]], *, id_property: str | None
) -> BatchRejected:
    """Attribute a whole-batch 400/409 to the inputs that caused it."""
    raw = str(error.context.get("provider_message", ""))
    ids: list[str] = list((error.context.get("hubspot_context") or {}).get("ids") or [])
    if match := _DUPLICATE_IDS.search(raw):
        ids += [part.strip().strip("\"'") for part in match.group(1).split(",") if part.strip()]
    for detail in error.context.get("errors") or []:
        if isinstance(detail, dict):
            ids += list((detail.get("context") or {}).get("ids") or [])
    invalid: list[dict[str, Any]] = []
    if _INVALID_PROPERTIES in raw:
        try:
            parsed = json.loads(raw.split(_INVALID_PROPERTIES, 1)[1].strip())
        except ValueError:
            parsed = []
        invalid = [p for p in parsed if isinstance(p, dict)] if isinstance(parsed, list) else []
    existing = _EXISTING_ID.search(raw)

    wanted = {str(i).lower() for i in ids}
    indexes: list[int] = []
    for index, item in enumerate(inputs):
        props = item.get("properties") or {}
        key = item.get("id") if "id" in item else props.get(id_property or "", None)
        blamed = key is not None and str(key).lower() in wanted
        for entry in invalid:
            name = entry.get("name", "")
            value = props.get(name)
            if name in props and _property_level(entry):
                blamed = True  # the property itself is wrong: every input that sets it fails
            elif value in (None, ""):
                continue
            elif _names_value(entry, str(value)):
                blamed = True
        if blamed:
            indexes.append(index)
    if not indexes and len(inputs) == 1:
        indexes = [0]
    return BatchRejected(
        f"{error.message}: batch rejected, {len(indexes)} of {len(inputs)} inputs blamed",
        input_indexes=indexes,
        ids=ids,
        invalid=invalid,
        existing_id=existing.group(1) if existing else None,
        status=error.status,
        category=error.category,
        context=error.context,
    )
