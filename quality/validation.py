"""Apply a field mapping to one source row: normalized values, every error, and the extras.

Generic over record kinds: the same rules shape contacts (email match key) and companies
(domain match key). Nothing here knows about the database; pipelines turn a result with
errors into a dead letter carrying all of them, so the admin fixes a record once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quality.errors import ValueRejected
from quality.transforms import ChainItem, CompiledChain, compile_chain, run_compiled

# Where the phone region hint comes from when no rule targets "country".
_COUNTRY_TARGET = "country"
_COUNTRY_COLUMNS = ("Country", "country", "COUNTRY")


@dataclass(frozen=True)
class MappingRule:
    """Source column → destination property, through a chain of named transforms."""

    source: str
    target: str
    transforms: list[ChainItem] = field(default_factory=list)
    required: bool = False
    # Compiled once per rule, not per row. A chain that fails to compile raises ValueError
    # here, at load time, instead of dead-lettering every record of a run.
    compiled: CompiledChain = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", compile_chain(self.transforms))


@dataclass(frozen=True, slots=True)
class FieldError:
    source: str  # the column or payload key, as the admin sees it in the file
    target: str
    code: str  # "required" | "invalid"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "target": self.target,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.source} → {self.target}: {self.message}"


@dataclass(slots=True)
class MappingResult:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and (not value or value.isspace()):
        return None
    return value


def apply_mapping(
    row: Mapping[str, Any],
    rules: Sequence[MappingRule],
    *,
    context: Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | None = None,
) -> MappingResult:
    """Map one row. Never raises for bad data: problems are returned in `result.errors`.

    - `columns` is `ColumnMatch.matched` (rule source → actual header) for CSV imports whose
      headers differ from the rule's; without it the rule's source is the key.
    - Empty and whitespace-only cells become an explicit None. A column absent from the row
      is left out of `values` (so a load does not clear what the destination already has),
      unless a `default` transform supplied a value.
    - Columns no rule reads are kept in `extras`, never rejected (Apollo custom fields).
    - `context["country"]` (the phone region hint) comes from the row: the value mapped to
      the "country" target, else a "Country" column, else the caller's context.
    - Several rules may feed one target (Mobile Phone, Corporate Phone → phone); the first
      non-empty value wins, and errors from all of them are reported.
    """
    result = MappingResult()
    context = dict(context) if context else {}
    used: set[str] = set()

    for column in _COUNTRY_COLUMNS:
        country = _blank_to_none(row.get(column))
        if country is not None:
            context[_COUNTRY_TARGET] = country
            break
    ordered = rules
    country_rule = next((r for r in rules if r.target == _COUNTRY_TARGET), None)
    if country_rule is not None:
        # The country is mapped first so its normalized value can serve as the phone hint.
        ordered = [country_rule, *(r for r in rules if r is not country_rule)]

    values = result.values
    for rule in ordered:
        header = columns.get(rule.source, rule.source) if columns else rule.source
        present = header in row
        if present:
            used.add(header)
        raw = _blank_to_none(row.get(header))
        try:
            value = _blank_to_none(run_compiled(raw, rule.compiled, context))
        except ValueRejected as exc:
            result.errors.append(FieldError(rule.source, rule.target, exc.code, exc.reason))
            values.setdefault(rule.target, None)
            continue
        if value is None:
            if rule.required:
                why = "is empty" if present else "is missing from the record"
                result.errors.append(
                    FieldError(rule.source, rule.target, "required", f"required, but {why}")
                )
            if present or rule.required:
                values.setdefault(rule.target, None)
            continue
        if values.get(rule.target) is None:
            values[rule.target] = value
        if rule is country_rule:
            context[_COUNTRY_TARGET] = value

    for key, value in row.items():
        if key not in used:
            result.extras[key] = _blank_to_none(value)
    return result
