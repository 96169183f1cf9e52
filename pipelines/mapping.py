"""From a stored mapping version to quality's rules, and from a record to what is sent.

Pure: no database. quality owns what a good value is (transforms, validation); this module
adds what is specific to a pipeline: the match key must be a syntax-checked email whatever
the mapping says (the YAML example maps Email with [strip, lower] only), and the hash that
decides "unchanged since the last sync".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quality.errors import ValueRejected
from quality.normalize import normalize_email
from quality.validation import CompiledMapping, MappingRule


def mapping_rules(rules: Sequence[Mapping[str, Any]]) -> list[MappingRule]:
    """Stored ``{"from", "to", "transforms", "required"}`` dicts → compiled MappingRules.
    Raises ValueError if a chain is invalid (field_mapping_validate refuses those earlier)."""
    return [
        MappingRule(
            source=str(rule["from"]),
            target=str(rule["to"]),
            transforms=list(rule.get("transforms") or []),
            required=bool(rule.get("required", False)),
        )
        for rule in rules
    ]


def rule_aliases(rules: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Stored rules → {source column: the other headers that feed it}, the aliases an admin
    picked in the import wizard (kept in the mapping version, so a run and its reprocessing
    match columns the same way)."""
    return {
        str(rule["from"]): [str(a) for a in rule.get("aliases") or []]
        for rule in rules
        if rule.get("aliases")
    }


def columns_match(headers: Sequence[str], rules: Sequence[Mapping[str, Any]]) -> Any:
    """quality's column matching with the mapping's remembered aliases."""
    from quality.columns import match_columns

    return match_columns(headers, mapping_rules(rules), aliases=rule_aliases(rules))


@dataclass
class TransformedRecord:
    values: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    match_key: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def record_transform(
    row: Mapping[str, Any],
    rules: Sequence[MappingRule] | CompiledMapping,
    *,
    match_on: str = "email",
    columns: Mapping[str, str] | None = None,
) -> TransformedRecord:
    """Map, normalize and validate one row; every error is kept, not just the first.
    For many rows, pass a CompiledMapping (built once with the file's columns) as ``rules``;
    ``columns`` is then ignored."""
    mapping = rules if isinstance(rules, CompiledMapping) else CompiledMapping(rules, columns)
    result = mapping.apply(row)
    out = TransformedRecord(
        values=result.values,
        extras=result.extras,
        errors=[error.as_dict() for error in result.errors],
    )
    key = out.values.get(match_on)
    if key is None:
        if not any(e["target"] == match_on for e in out.errors):
            out.errors.append(
                {
                    "source": match_on,
                    "target": match_on,
                    "code": "required",
                    "message": f"required: records are matched on {match_on}, and it is empty",
                }
            )
        return out
    if match_on == "email" and not (out.errors and any(e["target"] == "email" for e in out.errors)):
        try:
            key = normalize_email(str(key))
        except ValueRejected as exc:
            source = mapping.source_of("email", "email")
            out.errors.append(
                {"source": source, "target": "email", "code": exc.code, "message": exc.reason}
            )
            return out
        out.values["email"] = key
    out.match_key = str(key).lower()
    return out


def values_hash(values: Mapping[str, Any]) -> str:
    """Stable hash of the values as sent (sorted keys), for SyncedContact."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def hubspot_properties(values: Mapping[str, Any]) -> dict[str, str]:
    """HubSpot takes strings (docs/reference/hubspot.md#objects-and-properties). None means "empty in the source": the key is
    left out so a blank cell never clears what HubSpot already has (docs/reference/hubspot.md#value-formats: omitting a key
    leaves the value unchanged; an empty string would clear it)."""
    return {
        key: value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for key, value in values.items()
        if value is not None
    }
