"""Field precedence, normalization and the composite score: pure functions over provider
answers (no database, no HTTP). Rules and their meaning: docs/enrichment.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quality import firmographics
from quality.addresses import normalize_domain
from quality.errors import ValueRejected

SOURCES = ("apollo", "builtwith", "clearbit")
OPERATORS = {
    "between": "is between",
    "gte": "is at least",
    "lte": "is at most",
    "eq": "is",
    "in": "is one of",
    "contains": "contains",
    "present": "is known",
}
# Transforms a field may name; each refuses a value it cannot make valid (ValueRejected).
TRANSFORMS = {
    "hubspot_industry": firmographics.hubspot_industry,
    "employee_count": firmographics.employee_count,
    "revenue": firmographics.revenue,
    "technologies": firmographics.technologies,
    "domain": normalize_domain,
    "text": lambda v: str(v).strip(),
}
# What a property needs even when the field names no transform (HubSpot's types).
PROPERTY_DEFAULTS = {
    "numberofemployees": "employee_count",
    "annualrevenue": "revenue",
    "industry": "hubspot_industry",
    "domain": "domain",
}


@dataclass(frozen=True)
class Winner:
    value: Any
    source: str | None
    candidates: list[dict[str, Any]]


def answer_value(answer: Mapping[str, Any] | None, path: str) -> Any:
    """``metrics.employees`` → answer["metrics"]["employees"]; None when absent."""
    value: Any = answer
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def normalize(field: Mapping[str, Any], value: Any) -> Any:
    names = list(field.get("transforms") or [])
    if not names and field["to"] in PROPERTY_DEFAULTS:
        names = [PROPERTY_DEFAULTS[field["to"]]]
    if not names and isinstance(value, list | tuple):
        names = ["technologies"]
    for name in names:
        value = TRANSFORMS[name](value)
    if isinstance(value, list | tuple):
        value = firmographics.technologies(value)
    return value


def field_winner(field: Mapping[str, Any], answers: Mapping[str, Mapping[str, Any]]) -> Winner:
    """The first non-empty value that normalizes, in the field's source order; every other
    candidate is kept with its value or why it was refused ("Clearbit said 380")."""
    candidates: list[dict[str, Any]] = []
    winner: tuple[Any, str] | None = None
    for reference in field.get("from") or []:
        source, _, path = str(reference).partition(".")
        raw = answer_value(answers.get(source), path)
        if _empty(raw):
            continue
        try:
            value = normalize(field, raw)
        except ValueRejected as refused:
            candidates.append({"source": source, "value": _shown(raw), "refused": refused.reason})
            continue
        candidates.append({"source": source, "value": value})
        if winner is None:
            winner = (value, source)
    if winner is None:
        return Winner(None, None, candidates)
    return Winner(winner[0], winner[1], candidates)


def _shown(value: Any) -> Any:
    return value if isinstance(value, int | float) else str(value)[:120]


def fields_check(fields: Any) -> list[str]:
    """Problems with a list of field rules, in words an admin can act on."""
    if not isinstance(fields, list) or not fields:
        return ["fields must be a non-empty list of {to, from, transforms, overwrite}"]
    problems, seen = [], set()
    for n, field in enumerate(fields, start=1):
        if not isinstance(field, Mapping) or not field.get("to"):
            problems.append(f"field {n}: `to` (a HubSpot property) is required")
            continue
        if field["to"] in seen:
            problems.append(f"field {n}: {field['to']} appears twice")
        seen.add(field["to"])
        sources = field.get("from")
        if not isinstance(sources, list) or not sources:
            problems.append(f"field {n}: `from` must list at least one source.field")
            continue
        for ref in sources:
            source, _, path = str(ref).partition(".")
            if source not in SOURCES or not path:
                problems.append(
                    f"field {n}: {ref!r} must be <source>.<field> with source one of "
                    f"{', '.join(SOURCES)}"
                )
        for name in field.get("transforms") or []:
            if name not in TRANSFORMS:
                problems.append(
                    f"field {n}: unknown transform {name!r} (known: {', '.join(TRANSFORMS)})"
                )
        if not isinstance(field.get("overwrite", False), bool):
            problems.append(f"field {n}: overwrite must be true or false")
    return problems


def score_rules_check(rules: Any) -> list[str]:
    if not isinstance(rules, list):
        return ["score rules must be a list of {field, op, value, points}"]
    problems = []
    for n, rule in enumerate(rules, start=1):
        if not isinstance(rule, Mapping) or not rule.get("field"):
            problems.append(f"rule {n}: `field` is required")
            continue
        op = rule.get("op")
        if op not in OPERATORS:
            problems.append(f"rule {n}: op {op!r} is not one of {', '.join(OPERATORS)}")
            continue
        value = rule.get("value")
        if op == "between" and not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) for v in value)
        ):
            problems.append(f"rule {n}: between needs [low, high] numbers")
        if op in ("gte", "lte") and not isinstance(value, int | float):
            problems.append(f"rule {n}: {op} needs a number")
        if op == "in" and not isinstance(value, list):
            problems.append(f"rule {n}: in needs a list of values")
        points = rule.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or not -100 <= points <= 100:
            problems.append(f"rule {n}: points must be a whole number from -100 to 100")
    return problems


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rule_matches(rule: Mapping[str, Any], value: Any) -> bool:
    op, wanted = rule["op"], rule.get("value")
    if op == "present":
        return not _empty(value)
    if _empty(value):
        return False
    if op in ("between", "gte", "lte"):
        number = _number(value)
        if number is None:
            return False
        if op == "between":
            return wanted[0] <= number <= wanted[1]
        return number >= wanted if op == "gte" else number <= wanted
    text = str(value).strip().lower()
    if op == "eq":
        return text == str(wanted).strip().lower()
    if op == "in":
        return text in {str(w).strip().lower() for w in wanted}
    parts = {p.strip().lower() for p in str(value).split(";")}
    return str(wanted).strip().lower() in parts or str(wanted).strip().lower() in text


def rule_label(rule: Mapping[str, Any]) -> str:
    value = rule.get("value")
    if rule["op"] == "between":
        shown = f"{value[0]:,}–{value[1]:,}"
    elif isinstance(value, list):
        shown = ", ".join(map(str, value))
    else:
        shown = "" if value is None else str(value)
    return f"{rule['field']} {OPERATORS[rule['op']]} {shown}".strip()


def composite_score(
    rules: list[Mapping[str, Any]], values: Mapping[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """0-100: the points of every matching rule, summed and clamped. The breakdown lists
    each matching rule ("+30 numberofemployees is between 200–5,000")."""
    total, breakdown = 0, []
    for rule in rules:
        if rule_matches(rule, values.get(rule["field"])):
            total += int(rule["points"])
            breakdown.append({"points": int(rule["points"]), "reason": rule_label(rule)})
    return max(0, min(100, total)), breakdown


def breakdown_text(score: int, breakdown: list[dict[str, Any]]) -> str:
    parts = [f"{b['points']:+d} {b['reason']}" for b in breakdown]
    return f"{score}: " + ("; ".join(parts) if parts else "no rule matched")
