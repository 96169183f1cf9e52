"""Quality rules: the pure check of one record's values (no database). The stored rules become
specs once per staging pass (quality.selectors.quality_rule_specs).

A violation is an error dict like the mapping's (``source``, ``target``, ``code``,
``message``) plus ``severity``: "error" dead-letters the record, "warning" lets it through
and is counted in the run's quality (docs/quality.md, "Rules").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from quality.errors import ValueRejected
from quality.metrics import is_missing
from quality.normalize import normalize_date

_E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass(frozen=True)
class RuleSpec:
    field: str
    check: str
    format: str = ""
    min_value: float | None = None
    max_value: float | None = None
    allowed: frozenset[str] = frozenset()
    when_field: str = ""
    when_value: str = ""
    severity: str = "error"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(normalize_date(str(value))[:10])
    except (ValueRejected, ValueError):
        return None


def format_problem(fmt: str, value: Any) -> str | None:
    text = str(value).strip()
    if fmt == "email":
        from quality.addresses import normalize_email

        try:
            normalize_email(text)
        except ValueRejected:
            return "is not a valid email address"
    elif fmt == "phone_e164" and not _E164.fullmatch(text):
        return "is not an E.164 phone number (+ country code and digits)"
    elif fmt == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "is not a URL starting with http:// or https://"
    elif fmt == "iso_date":
        try:
            date.fromisoformat(text[:10])
        except ValueError:
            return "is not an ISO date (YYYY-MM-DD)"
    return None


def _problem(spec: RuleSpec, values: Mapping[str, Any], today: date) -> tuple[str, str] | None:
    """(code, message) if the record breaks the rule."""
    value = values.get(spec.field)
    if spec.check == "required":
        return ("required", "is required") if is_missing(value) else None
    if spec.check == "required_when":
        other = values.get(spec.when_field)
        applies = not is_missing(other) and str(other).strip().lower() == spec.when_value.lower()
        if applies and is_missing(value):
            return "rule", f"is required when {spec.when_field} is {spec.when_value}"
        return None
    if is_missing(value):
        return None  # only "required" rules speak about empty values
    if spec.check == "format":
        problem = format_problem(spec.format, value)
        return ("format", problem) if problem else None
    if spec.check == "allowed":
        ok = str(value).strip().lower() in spec.allowed
        return None if ok else ("rule", f"{value!r} is not one of the allowed values")
    if spec.check == "range":
        try:
            number = float(str(value).replace(",", ""))
        except ValueError:
            return "format", "is not a number"
        low = spec.min_value if spec.min_value is not None else float("-inf")
        high = spec.max_value if spec.max_value is not None else float("inf")
        return (
            None if low <= number <= high else ("rule", f"{number:g} is outside {low:g}–{high:g}")
        )
    if spec.check == "date_range":
        day = _as_date(value)
        if day is None:
            return "format", "is not a date"
        earliest = int(spec.min_value or 1900)
        if day > today:
            return "rule", "is in the future"
        if day.year < earliest:
            return "rule", f"is before {earliest}"
    return None


def rule_violations(
    values: Mapping[str, Any], specs: Sequence[RuleSpec], *, today: date | None = None
) -> list[dict[str, str]]:
    """Every rule the record breaks, as error dicts with their severity."""
    today = today or datetime.now(tz=UTC).date()
    found = []
    for spec in specs:
        problem = _problem(spec, values, today)
        if problem:
            code, message = problem
            found.append(
                {
                    "source": spec.field,
                    "target": spec.field,
                    "code": code,
                    "message": f"{spec.field} {message}",
                    "severity": spec.severity,
                }
            )
    return found


def has_blocking_error(errors: Sequence[Mapping[str, Any]]) -> bool:
    """Mapping errors carry no severity and always block; rule warnings do not."""
    return any(e.get("severity", "error") == "error" for e in errors)
