"""Configuration as code: everything an admin configures, exported to and applied from YAML.

Each section (`connections`, `workflows`, `territories`, ...) registers a validate, an apply
and an export function. `config_apply` validates every section before writing anything, then
applies them all in one transaction: an invalid file changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from django.db import transaction

from audit.services import audit_event_record
from integrations.config_sections import (
    ConfigError,
    connections_apply,
    connections_export,
    connections_validate,
)


@dataclass(frozen=True)
class Section:
    key: str
    validate: Callable[[Any], Any]
    apply: Callable[..., list[str]]
    export: Callable[[], Any]


SECTIONS: list[Section] = [
    Section("connections", connections_validate, connections_apply, connections_export),
]


def section_register(section: Section) -> None:
    """Add a section (later sections may refer to names defined by earlier ones)."""
    if all(existing.key != section.key for existing in SECTIONS):
        SECTIONS.append(section)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers each mapping's line, so errors can name it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# `${VAR}` is not a valid plain scalar inside a YAML flow mapping (`{token: ${X}}`: braces are
# indicators there), yet that is how people write references. Quote unquoted references before
# parsing; lines do not move, so error line numbers stay right.
_UNQUOTED_ENV_REF = re.compile(r"(?<![\"'])(\$\{[A-Z_][A-Z0-9_]*\})(?![\"'])")


def config_parse(text: str) -> dict:
    text = _UNQUOTED_ENV_REF.sub(r'"\1"', text)
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(1, "the file must be a mapping with sections such as `connections:`")
    known = {s.key for s in SECTIONS}
    unknown = set(data) - known - {"__line__"}
    if unknown:
        raise ConfigError(
            data.get("__line__"),
            f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(s.key for s in SECTIONS)}",
        )
    return data


def config_apply(
    *, text: str, actor_label: str = "command:config apply", dry_run: bool = False
) -> list[str]:
    """Validate the whole file, then apply it atomically. Returns the changes made (or planned)."""
    data = config_parse(text)
    changes: list[str] = []
    with transaction.atomic():
        for section in SECTIONS:
            if section.key not in data:
                continue
            plans = section.validate(data[section.key])
            changes += section.apply(plans, actor_label=actor_label)
        if dry_run:
            transaction.set_rollback(True)
        elif changes:
            audit_event_record(
                action="config.applied", actor_label=actor_label, metadata={"changes": changes}
            )
    return changes


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def config_export() -> str:
    data = {section.key: section.export() for section in SECTIONS}
    return yaml.safe_dump(_strip_lines(data), sort_keys=False, allow_unicode=True)
