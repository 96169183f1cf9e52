"""Configuration as code: everything an admin configures, exported to and applied from YAML.

Each section (`connections`, `workflows`, `territories`, ...) registers a validate, an apply
and an export function. A section with a declared schema is built by `schema_section`: its
validate and export come from the schema (integrations/config_schema.py), so every error names
the line and key path and the export cannot drift from what apply accepts. A section may still
register a plain validate function that raises ConfigError itself.

`config_apply` validates each section, in SECTION_ORDER, right before applying it, all in one
transaction: an invalid file changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from django.db import transaction
from pydantic import TypeAdapter

from audit.services import audit_event_record
from integrations.config_schema import (
    ConfigError,
    ConfigPathError,
    LineList,
    LineMapping,
    config_dump,
    config_error_at,
    config_validate,
    lines_strip,
)


@dataclass(frozen=True)
class Section:
    key: str
    validate: Callable[[Any], Any]
    apply: Callable[..., list[str]]
    export: Callable[[], Any]


# The order `config apply` runs the sections and `config export` prints them: a section may
# refer to names an earlier one defines (workflows and routing name connections; routing names
# territories; alerts name connections and workflows). Sections not listed here run after
# these, in the order they registered.
SECTION_ORDER = ("connections", "workflows", "territories", "routing", "alerts")

SECTIONS: list[Section] = []


def section_register(section: Section) -> None:
    """Add a section; SECTIONS stays in SECTION_ORDER whatever the import order."""
    if any(existing.key == section.key for existing in SECTIONS):
        return
    SECTIONS.append(section)
    rank = {key: n for n, key in enumerate(SECTION_ORDER)}
    SECTIONS.sort(key=lambda s: rank.get(s.key, len(rank)))  # stable: the rest keep their order


def schema_section(
    key: str,
    *,
    schema: type,
    plan: Callable[[Any], Any],
    apply: Callable[..., list[str]],
    export: Callable[[], list[Any]],
    one_or_many: bool = False,
) -> Section:
    """A section declared by a schema: a list of one pydantic model (`ConnectionItem`).

    `plan` turns the validated models into what `apply` writes and may raise ConfigPathError
    at a key path (a duplicate name); `export` returns models, printed through the schema.
    With `one_or_many` the file may hold a single mapping instead of a list of them (routing:
    most teams have one configuration), and export prints a single one as a mapping.
    """
    item_adapter, adapter = TypeAdapter(schema), TypeAdapter(list[schema])

    def validate(raw: Any) -> Any:
        single = one_or_many and isinstance(raw, dict)
        items = (
            [config_validate(item_adapter, raw, section=key)]
            if single
            else config_validate(adapter, raw, section=key)
        )
        try:
            return plan(items)
        except ConfigPathError as error:
            if single:  # the path inside the one mapping, without the list index
                error.loc = error.loc[1:]
            raise config_error_at(raw, section=key, error=error) from None

    def export_() -> Any:
        items = export()
        if one_or_many and len(items) == 1:
            return config_dump(item_adapter, items[0])
        return config_dump(adapter, items)

    return Section(key, validate, apply, export_)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of each mapping, key and list item, so errors
    can name it. Mappings also carry their own line as `__line__` for sections that read it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMapping:
    mapping = LineMapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        key_node.value: key_node.start_mark.line + 1
        for key_node, _ in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    mapping["__line__"] = mapping.line
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_sequence(node, deep=True))
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


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


def config_export() -> str:
    data = {section.key: section.export() for section in SECTIONS}
    return yaml.safe_dump(lines_strip(data), sort_keys=False, allow_unicode=True)
