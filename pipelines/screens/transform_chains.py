"""Transform chains as an admin writes and sees them, without JSON.

The editor shows each transform of a rule with a small form for its parameters (a value, a
table of replacements, a tick for day-first dates); this module is the server side of that:
the shape of each form (PARAM_FIELDS), and a reader for the chain as text, which is what the
form posts and what a person may also type:

    strip, default(Unknown), map_values(Hot → OPEN; Cold → UNQUALIFIED), iso_date(dayfirst)
    default: Unknown

The stored JSON (``[{"name": "default", "params": {"value": "Unknown"}}]``) is still read, so
nothing saved before changes; quality.transforms.validate_chain has the last word.
"""

from __future__ import annotations

import json
import re
from typing import Any

from quality.transforms import TRANSFORMS

# The form of each parameter: "text", "integer", "flag", "pairs" (a from → to table) or a
# list of choices. The first parameter of a transform is also what a bare argument sets:
# default(Unknown) is {"value": "Unknown"}.
PARAM_FIELDS: dict[str, list[dict[str, Any]]] = {
    "default": [{"name": "value", "kind": "text", "label": "Value when empty", "required": True}],
    "map_values": [
        {"name": "mapping", "kind": "pairs", "label": "Replace", "required": True},
        {"name": "default", "kind": "text", "label": "Otherwise (optional)", "required": False},
    ],
    "iso_date": [
        {"name": "dayfirst", "kind": "flag", "label": "Day first (31/12/2024)", "required": False}
    ],
    "truncate": [{"name": "length", "kind": "integer", "label": "At most", "required": True}],
    "split_name": [{"name": "part", "kind": ["first", "last"], "label": "Part", "required": True}],
    "e164": [
        {"name": "region", "kind": "text", "label": "Default country (GB)", "required": False}
    ],
}

_CALL = re.compile(r"^\s*([a-z_0-9]+)\s*(?:\((.*)\)|:\s*(.*))?\s*$", re.DOTALL)
_PAIR = re.compile(r"\s*(?:→|->|=>|=)\s*")


class ChainTextError(ValueError):
    pass


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses: "a, map_values(A → B, C → D)" is two items."""
    items, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _pairs(text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for part in re.split(r"[;\n]|,(?![^()]*\))", text):
        if not part.strip():
            continue
        pieces = _PAIR.split(part.strip(), maxsplit=1)
        if len(pieces) != 2 or not pieces[0]:
            raise ChainTextError(f"“{part.strip()}” is not a replacement: write Old → New")
        table[pieces[0].strip()] = pieces[1].strip()
    return table


def _param_value(field: dict[str, Any], text: str) -> Any:
    kind = field["kind"]
    if kind == "pairs":
        return _pairs(text)
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ChainTextError(f"{field['label']}: “{text}” is not a whole number") from None
    if kind == "flag":
        return text.lower() in ("", "yes", "true", "1", field["name"])
    return text


def _item(text: str) -> Any:
    found = _CALL.match(text)
    if not found:
        raise ChainTextError(f"“{text}” is not a transform: write a name, or name(value)")
    name, argument = (
        found.group(1),
        found.group(2) if found.group(2) is not None else found.group(3),
    )
    if name not in TRANSFORMS:
        known = ", ".join(sorted(TRANSFORMS))
        raise ChainTextError(f"unknown transform “{name}” (known: {known})")
    if argument is None or not argument.strip():
        return name
    fields = PARAM_FIELDS.get(name)
    if not fields:
        raise ChainTextError(f"{name} takes no value")
    argument = argument.strip()
    params: dict[str, Any] = {}
    named = re.match(r"^([a-z_]+)\s*=\s*(.*)$", argument, re.DOTALL)
    by_name = {f["name"]: f for f in fields}
    if named and named.group(1) in by_name and fields[0]["kind"] != "pairs":
        params[named.group(1)] = _param_value(by_name[named.group(1)], named.group(2).strip())
    else:
        params[fields[0]["name"]] = _param_value(fields[0], argument)
    return {"name": name, "params": params}


def chain_from_text(text: str) -> list[Any]:
    """The chain a person wrote (or the editor posted). Raises ChainTextError naming the part
    that cannot be read; quality.transforms.validate_chain then checks names and parameters."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            chain = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ChainTextError(f"not a readable chain: {exc.msg} (column {exc.colno})") from None
        if not isinstance(chain, list):
            raise ChainTextError("the chain must be a list of transforms")
        return chain
    return [_item(part) for part in _split_top(text)]


def chain_to_text(chain: list[Any]) -> str:
    """A stored chain as the editor shows it: "strip, default(Unknown), map_values(A → B)"."""
    parts = []
    for item in chain:
        if isinstance(item, str):
            parts.append(item)
            continue
        name, params = item.get("name", ""), dict(item.get("params") or {})
        fields = PARAM_FIELDS.get(name, [])
        if not params:
            parts.append(name)
        elif len(params) == 1 and fields and fields[0]["name"] in params:
            value = params[fields[0]["name"]]
            if fields[0]["kind"] == "pairs":
                value = "; ".join(f"{k} → {v}" for k, v in value.items())
            elif fields[0]["kind"] == "flag":
                value = fields[0]["name"] if value else ""
            parts.append(f"{name}({value})" if value != "" else name)
        else:
            return json.dumps(chain, ensure_ascii=False)  # a combination text cannot show
    return ", ".join(parts)
