"""The territory rule engine: conditions on a lead's contact and company, first match wins.

Pure: no database, no HTTP. A rule's ``when`` is a mapping of field → test, the form the
admin and `config apply` share::

    {"country": {"in": ["GB", "DE"]}, "employee_count": {"range": {"min": 50}}}
    {"state": "CA"}                     # a scalar means equals
    {"company.industry": {"is_empty": false}}

Every condition of a rule must hold (AND); an empty ``when`` always matches (a catch-all).
Each evaluation says why it matched or not, for the decision's explanation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quality.countries import region_for_country

OPERATORS = ("equals", "in", "contains", "range", "is_empty")

# Named fields a RevOps admin thinks in, and where each is read from (first non-empty wins).
# HubSpot property names: contacts/companies default properties (docs/reference/hubspot.md#properties).
NAMED_FIELDS: dict[str, tuple[str, ...]] = {
    "country": ("contact.country", "company.country"),
    "state": ("contact.state", "company.state"),
    "city": ("contact.city", "company.city"),
    "region": (),  # derived from the country, below
    "employee_count": ("company.numberofemployees",),
    "industry": ("company.industry", "contact.industry"),
    "domain": ("company.domain", "contact.hs_email_domain"),
    "lifecycle_stage": ("contact.lifecyclestage",),
}

FIELD_LABELS: dict[str, str] = {
    "country": "Country (contact, else company; names and ISO codes agree)",
    "state": "State / region (contact, else company)",
    "city": "City (contact, else company)",
    "region": "Sales region from the country (NA, LATAM, APAC, EMEA)",
    "employee_count": "Number of employees (company)",
    "industry": "Industry (company, else contact)",
    "domain": "Company domain",
    "lifecycle_stage": "Lifecycle stage (contact)",
}


def lead_from_fields(
    *, contact: dict[str, Any], company: dict[str, Any], contact_id: str = "simulated"
) -> Lead:
    """A lead from what an admin typed, in the rules' own vocabulary: a named field
    (employee_count = 250) lands in the property it is read from (company.numberofemployees),
    contact.x / company.x in that object, any other name as given. So a condition on a field
    and a simulated value for the same field always meet."""
    objects: dict[str, dict[str, Any]] = {"contact": {}, "company": {}}
    for default_scope, values in (("contact", contact), ("company", company)):
        for name, value in values.items():
            scope, _, prop = name.partition(".")
            if scope in objects and prop:
                objects[scope][prop] = value
            elif NAMED_FIELDS.get(name):
                source_scope, _, source = NAMED_FIELDS[name][0].partition(".")
                objects[source_scope][source] = value
            elif name == "region":
                continue  # derived from the country; cannot be set by itself
            else:
                objects[default_scope][name] = value
    company_id = "simulated" if objects["company"] else None
    return Lead(contact_id, objects["contact"], company_id, objects["company"])


# Sales regions by ISO country (a coarse default; rules on `country` are the precise tool).
_NA = {"US", "CA"}
_LATAM = {"MX", "BR", "AR", "CL", "CO", "PE", "UY", "EC", "VE", "CR", "PA", "GT", "DO"}
_APAC = {"AU", "NZ", "JP", "CN", "HK", "SG", "IN", "KR", "TW", "ID", "MY", "PH", "TH", "VN"}


class RuleError(ValueError):
    """A rule or condition that cannot be evaluated; the message names the culprit."""


@dataclass(frozen=True)
class Lead:
    """What a decision looks at: the contact's and its company's properties (strings)."""

    contact_id: str
    contact: dict[str, Any] = field(default_factory=dict)
    company_id: str | None = None
    company: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class ConditionResult:
    field: str
    op: str
    expected: Any
    actual: Any
    matched: bool
    reason: str


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine sees it: position, target and parsed conditions."""

    key: Any  # the row id (or a config line); opaque to the engine
    position: int
    territory: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class RuleResult:
    key: Any
    position: int
    territory: str
    matched: bool
    chosen: bool
    conditions: tuple[ConditionResult, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.key,
            "position": self.position,
            "territory": self.territory,
            "matched": self.matched,
            "chosen": self.chosen,
            "conditions": [c.__dict__ for c in self.conditions],
        }


def conditions_parse(when: Any) -> tuple[Condition, ...]:
    """``when`` mapping → conditions. Raises RuleError with a message fit for a form."""
    if when in (None, {}):
        return ()
    if not isinstance(when, dict):
        raise RuleError("`when` must be a mapping of field → condition")
    parsed = []
    for name, test in when.items():
        if name == "__line__":
            continue
        field_name = field_check(str(name))
        if isinstance(test, dict):
            tests = {k: v for k, v in test.items() if k != "__line__"}
        elif isinstance(test, list):
            tests = {"in": test}
        else:
            tests = {"equals": test}
        if not tests:
            raise RuleError(f"{name}: no test given (use one of {', '.join(OPERATORS)})")
        for op, value in tests.items():
            parsed.append(Condition(field_name, op, _value_check(name, op, value)))
    return tuple(parsed)


def field_check(name: str) -> str:
    if name in NAMED_FIELDS:
        return name
    scope, _, prop = name.partition(".")
    if scope in ("contact", "company") and prop:
        return name
    raise RuleError(
        f"unknown field {name!r}: use {', '.join(NAMED_FIELDS)}, or contact.<property> / "
        "company.<property>"
    )


def _value_check(name: str, op: str, value: Any) -> Any:
    if op not in OPERATORS:
        raise RuleError(f"{name}: unknown test {op!r} (use one of {', '.join(OPERATORS)})")
    if op == "in" and (not isinstance(value, list) or not value):
        raise RuleError(f"{name}: `in` needs a non-empty list")
    if op == "range":
        if not isinstance(value, dict) or not ({"min", "max"} & set(value)):
            raise RuleError(f"{name}: `range` needs `min` and/or `max`")
        try:
            return {k: float(value[k]) for k in ("min", "max") if value.get(k) is not None}
        except (TypeError, ValueError):
            raise RuleError(f"{name}: `range` bounds must be numbers") from None
    if op == "is_empty" and not isinstance(value, bool):
        raise RuleError(f"{name}: `is_empty` takes true or false")
    if op in ("equals", "contains") and (value is None or isinstance(value, dict | list)):
        raise RuleError(f"{name}: `{op}` takes one value")
    return value


def properties_referenced(conditions: Iterable[Condition]) -> set[tuple[str, str]]:
    """(object, property) pairs the conditions read, to check they exist in HubSpot."""
    needed: set[tuple[str, str]] = set()
    for condition in conditions:
        sources = NAMED_FIELDS.get(condition.field)
        if condition.field == "region":
            sources = NAMED_FIELDS["country"]
        for source in sources if sources is not None else (condition.field,):
            scope, _, prop = source.partition(".")
            needed.add(("contacts" if scope == "contact" else "companies", prop))
    return needed


def field_value(lead: Lead, name: str) -> Any:
    """The lead's value for a field: a named field's first non-empty source, or a property."""
    if name == "region":
        return _region(region_for_country(_text(field_value(lead, "country"))))
    if name == "country":
        raw = _first(lead, NAMED_FIELDS["country"])
        return region_for_country(_text(raw)) or raw  # "United Kingdom" and "GB" agree
    sources = NAMED_FIELDS.get(name)
    return _first(lead, sources if sources is not None else (name,))


def _first(lead: Lead, sources: Sequence[str]) -> Any:
    for source in sources:
        scope, _, prop = source.partition(".")
        value = (lead.contact if scope == "contact" else lead.company).get(prop)
        if not _empty(value):
            return value
    return None


def _region(country: str | None) -> str | None:
    if not country:
        return None
    if country in _NA:
        return "NA"
    if country in _LATAM:
        return "LATAM"
    if country in _APAC:
        return "APAC"
    return "EMEA"


def condition_evaluate(condition: Condition, lead: Lead) -> ConditionResult:
    actual = field_value(lead, condition.field)
    op, expected = condition.op, condition.value
    if op == "is_empty":
        matched = _empty(actual) is expected
        why = f"is {'empty' if _empty(actual) else repr(actual)}"
    elif _empty(actual):
        matched, why = False, "is empty"
    elif op == "equals":
        matched = _norm(actual) == _norm(expected)
        why = f"{actual!r} {'=' if matched else '≠'} {expected!r}"
    elif op == "in":
        matched = _norm(actual) in {_norm(v) for v in expected}
        why = f"{actual!r} {'is' if matched else 'is not'} in {list(expected)}"
    elif op == "contains":
        matched = _norm(expected) in _norm(actual)
        why = f"{actual!r} {'contains' if matched else 'does not contain'} {expected!r}"
    else:  # range
        number = _number(actual)
        if number is None:
            matched, why = False, f"{actual!r} is not a number"
        else:
            matched = expected.get("min", number) <= number <= expected.get("max", number)
            why = f"{number:g} {'within' if matched else 'outside'} {_bounds(expected)}"
    return ConditionResult(
        condition.field, op, expected, actual, matched, f"{condition.field} {why}"
    )


def rules_evaluate(
    rules: Sequence[RuleSpec], lead: Lead
) -> tuple[RuleSpec | None, list[RuleResult]]:
    """Evaluate every rule in order; the first match is chosen. Later rules are evaluated too,
    so the explanation can say "also matched, but an earlier rule won"."""
    chosen: RuleSpec | None = None
    results = []
    for rule in sorted(rules, key=lambda r: r.position):
        outcomes = tuple(condition_evaluate(c, lead) for c in rule.conditions)
        matched = all(o.matched for o in outcomes)
        is_chosen = matched and chosen is None
        if is_chosen:
            chosen = rule
        results.append(
            RuleResult(rule.key, rule.position, rule.territory, matched, is_chosen, outcomes)
        )
    return chosen, results


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    return None if _empty(value) else str(value)


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def _number(value: Any) -> float | None:
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def _bounds(bounds: dict[str, float]) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    return f"[{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}]"
