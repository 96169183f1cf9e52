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
from quality.transforms import ChainItem, CompiledChain, compile_chain

# Where the phone region hint comes from when no rule targets "country".
_COUNTRY_TARGET = "country"
_COUNTRY_COLUMNS = ("Country", "country", "COUNTRY")
# The columns a row's country is read from for every rule (a phone's region), whatever the rules.
CONTEXT_COLUMNS = _COUNTRY_COLUMNS


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


class CompiledMapping:
    """A mapping resolved once for a file's columns, then applied to every row of it.

    Everything that does not depend on the row (header of each rule, the country-first
    order, the set of mapped headers) is worked out here, not per row: at 100k+ rows per
    import this per-row bookkeeping cost as much as the transforms themselves.
    """

    __slots__ = ("_country_target_rule", "_headers", "_steps")

    def __init__(
        self, rules: Sequence[MappingRule], columns: Mapping[str, str] | None = None
    ) -> None:
        country_rule = next((r for r in rules if r.target == _COUNTRY_TARGET), None)
        ordered = list(rules)
        if country_rule is not None:
            # The country is mapped first so its normalized value can serve as the phone hint.
            ordered = [country_rule, *(r for r in rules if r is not country_rule)]
        self._steps = tuple(
            (
                rule.source,
                rule.target,
                columns.get(rule.source, rule.source) if columns else rule.source,
                tuple((spec.func, params, spec.passes_none) for spec, params in rule.compiled),
                rule.required,
                rule is country_rule,
            )
            for rule in ordered
        )
        self._headers = frozenset(step[2] for step in self._steps)

    def source_of(self, target: str, default: str) -> str:
        """The column (rule source) that feeds ``target``, for error messages."""
        return next((step[0] for step in self._steps if step[1] == target), default)

    def apply(
        self, row: Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> MappingResult:
        """See apply_mapping. Never raises for bad data."""
        result = MappingResult()
        context = dict(context) if context else {}
        for column in _COUNTRY_COLUMNS:
            country = row.get(column)
            if isinstance(country, str) and (not country or country.isspace()):
                continue
            if country is not None:
                context[_COUNTRY_TARGET] = country
                break
        values = result.values
        errors = result.errors
        for source, target, header, chain, required, is_country in self._steps:
            present = header in row
            value = row[header] if present else None
            if isinstance(value, str) and (not value or value.isspace()):
                value = None
            try:
                for func, params, passes_none in chain:
                    if value is None and passes_none:
                        continue
                    value = func(value, params, context)
            except ValueRejected as exc:
                errors.append(FieldError(source, target, exc.code, exc.reason))
                values.setdefault(target, None)
                continue
            if isinstance(value, str) and (not value or value.isspace()):
                value = None
            if value is None:
                if required:
                    why = "is empty" if present else "is missing from the record"
                    errors.append(FieldError(source, target, "required", f"required, but {why}"))
                if present or required:
                    values.setdefault(target, None)
                continue
            if values.get(target) is None:
                values[target] = value
            if is_country:
                context[_COUNTRY_TARGET] = value
        headers = self._headers
        result.extras = {
            key: None if isinstance(value, str) and (not value or value.isspace()) else value
            for key, value in row.items()
            if key not in headers
        }
        return result


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

    Many rows with one set of rules: build a CompiledMapping once and call its ``apply``.
    """
    return CompiledMapping(rules, columns).apply(row, context)
