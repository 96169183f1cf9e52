"""Named transforms that field mappings chain together: ["strip", "lower", "email"].

A chain is stored as JSON on the field mapping, so each item is a name or
{"name": ..., "params": {...}}. `validate_chain` runs when the mapping is saved and returns
every problem in words an admin can act on; `apply_chain` runs per record.

Every transform passes None through untouched (except `default`, whose job is to replace it),
so a chain never has to guard against empty cells.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quality import normalize
from quality.errors import ValueRejected

TransformFunc = Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Any]
ChainItem = str | Mapping[str, Any]
CompiledChain = tuple[tuple["TransformSpec", Mapping[str, Any]], ...]


@dataclass(frozen=True, slots=True)
class TransformSpec:
    name: str
    description: str  # shown in the mapping editor
    func: TransformFunc
    params: tuple[str, ...] = ()  # required
    optional_params: tuple[str, ...] = ()
    passes_none: bool = True  # False only for `default`
    check_params: Callable[[Mapping[str, Any]], list[str]] | None = None


def _text(value: Any) -> str:
    # Webhook payloads carry numbers and booleans too; text transforms work on their text.
    return value if isinstance(value, str) else str(value)


def _map_values(value: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    mapping: Mapping[str, Any] = params["mapping"]
    key = _text(value)
    if key in mapping:
        return mapping[key]
    # Sources disagree on case and spacing ("Verified" vs "verified "); an exact key wins,
    # then a case- and whitespace-insensitive one.
    folded = key.strip().casefold()
    for candidate, mapped in mapping.items():
        if str(candidate).strip().casefold() == folded:
            return mapped
    if "default" in params:
        return params["default"]
    # Picklist values, not free text: showing the value tells the admin which key to add.
    shown = key if len(key) <= 40 else key[:40] + "…"
    raise ValueRejected(f"'{shown}' is not one of the values this mapping knows")


def _check_map_values(params: Mapping[str, Any]) -> list[str]:
    if not isinstance(params.get("mapping"), Mapping) or not params["mapping"]:
        return ["needs 'mapping': a non-empty table of source value → destination value"]
    return []


def _truncate(value: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    return _text(value)[: int(params["length"])]


def _check_truncate(params: Mapping[str, Any]) -> list[str]:
    length = params.get("length")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        return ["needs 'length': a whole number of characters, 1 or more"]
    return []


def _split_name(value: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    first, last = normalize.split_name(_text(value))
    return first if params["part"] == "first" else last


def _check_split_name(params: Mapping[str, Any]) -> list[str]:
    if params.get("part") not in ("first", "last"):
        return ['needs \'part\': either "first" or "last"']
    return []


def _e164(value: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    # The record's country is the region hint; a connection-wide default can sit in params.
    hint = context.get("country") or params.get("region")
    return normalize.normalize_phone(_text(value), region_hint=hint)


def _iso_date(value: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    return normalize.normalize_date(value, dayfirst=bool(params.get("dayfirst", False)))


def _spec(name: str, description: str, func: TransformFunc, **kwargs: Any) -> TransformSpec:
    return TransformSpec(name=name, description=description, func=func, **kwargs)


TRANSFORMS: dict[str, TransformSpec] = {
    spec.name: spec
    for spec in (
        _spec("strip", "Remove spaces at both ends.", lambda v, p, c: _text(v).strip()),
        _spec("lower", "Lowercase.", lambda v, p, c: _text(v).lower()),
        _spec("upper", "Uppercase.", lambda v, p, c: _text(v).upper()),
        _spec(
            "title",
            "Capitalise words (ADA LOVELACE → Ada Lovelace); mixed case is left alone.",
            lambda v, p, c: normalize.title_case(_text(v)),
        ),
        _spec(
            "e164",
            "Phone number in international format (+442079460958), using the record's country "
            "for numbers without +.",
            _e164,
            optional_params=("region",),
        ),
        _spec(
            "iso_date",
            "Date as YYYY-MM-DD, or date and time in UTC. Set dayfirst for 31/12/2024 style.",
            _iso_date,
            optional_params=("dayfirst",),
        ),
        _spec(
            "url",
            "Web address with https://, lowercase site name, no tracking parameters.",
            lambda v, p, c: normalize.normalize_url(_text(v)),
        ),
        _spec(
            "domain",
            "Company domain from a website, email or host (https://www.acme.co.uk → acme.co.uk).",
            lambda v, p, c: normalize.normalize_domain(_text(v)),
        ),
        _spec(
            "email",
            "Checked, lowercased email address.",
            lambda v, p, c: normalize.normalize_email(_text(v)),
        ),
        _spec(
            "map_values",
            "Replace values using a table (e.g. Verified → verified). Values not in the table "
            "use 'default' if given, otherwise the record is rejected.",
            _map_values,
            params=("mapping",),
            optional_params=("default",),
            check_params=_check_map_values,
        ),
        _spec(
            "default",
            "Use this value when the field is empty.",
            lambda v, p, c: p["value"] if v is None else v,
            params=("value",),
            passes_none=False,
        ),
        _spec(
            "split_name",
            "Take the first or last name out of a full name.",
            _split_name,
            params=("part",),
            check_params=_check_split_name,
        ),
        _spec(
            "truncate",
            "Cut text to at most 'length' characters.",
            _truncate,
            params=("length",),
            check_params=_check_truncate,
        ),
        _spec(
            "empty_to_null",
            "Treat blank text as empty.",
            lambda v, p, c: normalize.empty_to_none(v),
        ),
    )
}


def _item_parts(item: Any) -> tuple[Any, Any]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, Mapping):
        return item.get("name"), item.get("params", {})
    return None, None


def validate_chain(chain: Any) -> list[str]:
    """Every problem with a stored chain, as sentences for the mapping form; [] when valid."""
    if not isinstance(chain, Sequence) or isinstance(chain, str):
        return ["Transforms must be a list."]
    errors: list[str] = []
    for position, item in enumerate(chain, start=1):
        name, params = _item_parts(item)
        where = f"Step {position}"
        if not isinstance(name, str) or not name:
            errors.append(f"{where}: must be a transform name or {{'name': ..., 'params': ...}}.")
            continue
        spec = TRANSFORMS.get(name)
        if spec is None:
            known = ", ".join(sorted(TRANSFORMS))
            errors.append(f"{where}: unknown transform '{name}'. Known transforms: {known}.")
            continue
        if not isinstance(params, Mapping):
            errors.append(f"{where} ({name}): params must be a table of name → value.")
            continue
        missing = [p for p in spec.params if p not in params]
        for param in missing:
            errors.append(f"{where} ({name}): missing parameter '{param}'.")
        allowed = set(spec.params) | set(spec.optional_params)
        for param in sorted(set(params) - allowed):
            errors.append(f"{where} ({name}): unknown parameter '{param}'.")
        if not missing and spec.check_params is not None:
            errors.extend(f"{where} ({name}): {problem}" for problem in spec.check_params(params))
    return errors


def compile_chain(chain: Sequence[ChainItem]) -> CompiledChain:
    """Resolve names once, so a chain applied to a million rows does no lookups.

    Raises ValueError listing every problem: a chain reaching here should already have passed
    validate_chain when its mapping was saved.
    """
    errors = validate_chain(chain)
    if errors:
        raise ValueError("Invalid transform chain: " + " ".join(errors))
    compiled = []
    for item in chain:
        name, params = _item_parts(item)
        compiled.append((TRANSFORMS[name], dict(params)))
    return tuple(compiled)


def run_compiled(value: Any, compiled: CompiledChain, context: Mapping[str, Any]) -> Any:
    for spec, params in compiled:
        if value is None and spec.passes_none:
            continue
        value = spec.func(value, params, context)
    return value


def apply_chain(
    value: Any, chain: Sequence[ChainItem], context: Mapping[str, Any] | None = None
) -> Any:
    """Run `chain` over one value. Raises ValueRejected (bad value) or ValueError (bad chain)."""
    return run_compiled(value, compile_chain(chain), context or {})
