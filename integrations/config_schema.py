"""The schema engine behind `manage.py config apply|export`.

A section declares its shape once, as pydantic models (`ConfigModel`): keys, types, ranges,
choices and cross-references (a connection that must exist, with the right provider). The same
models validate a file and print the export, so the two cannot drift. Every error is a
`ConfigError` that names the file line and the key path (`connections[0].timeouts.connect`):
a wrong type is a sentence for the admin, never a traceback.

The YAML loader (pipelines.configuration) hands over mappings and lists that remember the line
of each key and item (`LineMapping`, `LineList`); this module only reads those lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

ENV_REF = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")

Loc = Sequence[str | int]


class ConfigError(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


class ConfigPathError(Exception):
    """Raised by a section's plan step at a key path (relative to the section); the engine
    turns it into a ConfigError with the line of that key."""

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = tuple(loc)
        super().__init__(message)


class LineMapping(dict):
    """A YAML mapping that remembers its own line and the line of each key."""

    line: int | None = None
    key_lines: dict[Any, int]


class LineList(list):
    """A YAML sequence that remembers the line of each item."""

    line: int | None = None
    item_lines: list[int]


class ConfigModel(BaseModel):
    """Base of every section's schema: an unknown key is an error, and so is a value of the
    wrong kind (`max_attempts: many`, `timeouts: "fast"`). Numbers are accepted where text is
    expected, because HubSpot ids are usually written unquoted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


def config_problem(message: str) -> PydanticCustomError:
    """Raise this from a validator: its message reaches the admin as written."""
    return PydanticCustomError("config", message)


def choice(values: Iterable[str]) -> AfterValidator:
    """A value from a fixed list (a Django TextChoices' values), named in the error."""
    allowed = list(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise config_problem(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return AfterValidator(check)


def _name_check(value: str) -> str:
    if not re.fullmatch(r"[-a-zA-Z0-9_]+", value):
        raise config_problem(f"{value!r} may use only letters, digits, - and _")
    return value


# Names other sections refer to (connections, workflows): letters, digits, - and _.
Name = Annotated[str, AfterValidator(_name_check)]


def _env_ref_check(value: str) -> str:
    match = ENV_REF.match(value)
    if not match:
        raise config_problem("must be an ${ENV_VAR} reference, never a value")
    if match.group(1) not in os.environ:
        raise config_problem(f"environment variable {match.group(1)} is not set")
    return value


# A secret: the file holds `${ENV_VAR}`, resolved when applied (env_ref_resolve).
EnvRef = Annotated[str, AfterValidator(_env_ref_check)]


def env_ref_name(reference: str) -> str:
    match = ENV_REF.match(reference)
    assert match, reference  # noqa: S101 - EnvRef validated it
    return match.group(1)


def env_ref_resolve(reference: str) -> str:
    return os.environ[env_ref_name(reference)]


def reference(lookup: Callable[[str], str | None]) -> AfterValidator:
    """A cross-reference: `lookup(value)` returns a problem sentence, or None when it holds."""

    def check(value: str | None) -> str | None:
        if value in (None, ""):
            return value
        problem = lookup(value)
        if problem:
            raise config_problem(problem)
        return value

    return AfterValidator(check)


def lines_strip(value: Any) -> Any:
    """Plain dicts and lists without the loader's `__line__` keys."""
    if isinstance(value, dict):
        return {k: lines_strip(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [lines_strip(v) for v in value]
    return value


def line_at(raw: Any, loc: Loc) -> int | None:
    """The line of the deepest key or item of `loc` that exists in the loaded file."""
    node, line = raw, getattr(raw, "line", None)
    for part in loc:
        if isinstance(node, LineMapping) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def path_text(section: str, loc: Loc) -> str:
    text = section
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


# pydantic's wording where it would name our classes ("instance of Timeouts").
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "is required",
    "model_type": "must be a mapping (key: value lines)",
    "dict_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list (- item lines)",
}


def _message(error: dict) -> str:
    return _MESSAGES.get(error["type"], error["msg"])


def config_validate(adapter: TypeAdapter, raw: Any, *, section: str) -> Any:
    """Validate one section's raw YAML value; the first error becomes a ConfigError."""
    try:
        return adapter.validate_python(lines_strip(raw))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        # pydantic appends the union member or validator it tried (`str`, `function-after[…]`)
        # to the location; keep only the keys and indexes the admin wrote.
        loc = [p for p in error["loc"] if isinstance(p, int) or not _is_internal(p)]
        raise ConfigError(
            line_at(raw, loc), f"{path_text(section, loc)}: {_message(error)}"
        ) from None


def _is_internal(part: str) -> bool:
    return "[" in part or part in {"str", "int", "float", "bool", "list", "dict", "none"}


def config_error_at(raw: Any, *, section: str, error: ConfigPathError) -> ConfigError:
    return ConfigError(line_at(raw, error.loc), f"{path_text(section, error.loc)}: {error}")


def config_dump(adapter: TypeAdapter, value: Any) -> Any:
    """The export: models built by a section's export step, printed by the same schema."""
    return adapter.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
