"""HubSpot error bodies and the exception that carries them out of a handler.

Shapes follow docs/reference/hubspot.md#errors (``Error``: status, message, correlationId, category,
optional context{str: [str]}, errors[], links) and docs/reference/hubspot.md#rate-limits (429 bodies).
"""

from __future__ import annotations

import json
import uuid
from typing import Any


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(
    message: str,
    category: str,
    *,
    context: dict[str, list[str]] | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``Error`` schema of docs/reference/hubspot.md#errors, with the ``status: "error"`` real bodies carry."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    if context:
        body["context"] = context
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


class ApiError(Exception):
    """Raised inside a handler; the app turns it into a JSON (or raw) response."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        headers: list[tuple[str, str]] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json;charset=utf-8",
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.raw = raw
        self.content_type = content_type

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


def validation_error(message: str, **kwargs: Any) -> ApiError:
    return ApiError(400, error_body(message, "VALIDATION_ERROR", **kwargs))


def not_found(message: str, **kwargs: Any) -> ApiError:
    return ApiError(404, error_body(message, "OBJECT_NOT_FOUND", **kwargs))


class PropertyProblem:
    """One invalid property value, rendered the way HubSpot reports it (docs/reference/hubspot.md#value-formats:
    ``Property values were not valid: [{"isValid":false,…,"error":"INVALID_EMAIL","name":"email"}]``).
    """

    def __init__(self, name: str, error: str, message: str) -> None:
        self.name = name
        self.error = error
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {
            "isValid": False,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }


def property_problems_message(problems: list[PropertyProblem]) -> str:
    return "Property values were not valid: " + json.dumps([p.as_dict() for p in problems])


def property_problems_error(
    problems: list[PropertyProblem], *, trace_id: str | None = None, input_id: str | None = None
) -> dict[str, Any]:
    """A ``StandardError`` (docs/reference/hubspot.md#batch-endpoints) naming every bad value of one input."""
    context: dict[str, list[str]] = {"propertyName": sorted({p.name for p in problems})}
    if trace_id is not None:
        context["objectWriteTraceId"] = [trace_id]
    if input_id is not None:
        context["ids"] = [input_id]
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": property_problems_message(problems),
        "context": context,
        "errors": [
            {
                "message": p.message,
                "code": p.error,
                "in": p.name,
                "context": {},
                "subCategory": p.error,
            }
            for p in problems
        ],
        "subCategory": {},
        "links": {},
    }
