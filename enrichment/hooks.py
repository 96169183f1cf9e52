"""How pipelines reaches this app without importing it: the `workflows:` config section is
extended to take enrichment items, and dead-letter reprocessing looks up handlers by
workflow type."""

from __future__ import annotations

from typing import Any


def _workflows_section_extend() -> None:
    """Let the `workflows:` section take ``type: company_enrichment`` items: they are split off
    before the section's own schema sees the list, validated and applied by
    enrichment.configuration (errors name the line), and exported after the others."""
    from enrichment import configuration
    from integrations.config_schema import ConfigError, LineList
    from pipelines import configuration as sections
    from pipelines.models import WorkflowType

    index = next((n for n, s in enumerate(sections.SECTIONS) if s.key == "workflows"), None)
    if index is None or getattr(sections.SECTIONS[index], "enrichment", False):
        return
    base = sections.SECTIONS[index]
    kind = WorkflowType.COMPANY_ENRICHMENT

    def validate(raw: Any) -> dict:
        if not isinstance(raw, list):
            return {"base": base.validate(raw), "enrichment": []}
        lines = list(getattr(raw, "item_lines", []) or [None] * len(raw))
        ours, rest, rest_lines = [], LineList(), []
        for n, item in enumerate(raw):
            if isinstance(item, dict) and item.get("type") == kind:
                ours.append((n, item))
            else:
                rest.append(item)
                rest_lines.append(lines[n] if n < len(lines) else None)
        rest.line, rest.item_lines = getattr(raw, "line", None), rest_lines
        plans = base.validate(rest)
        taken = {getattr(p, "get", lambda k: None)("slug") for p in plans or []}
        mine = []
        for n, item in ours:
            plan = configuration.validate(item, f"workflows[{n}]", item.get("__line__"))
            if plan["slug"] in taken:
                raise ConfigError(item.get("__line__"), f"workflow {plan['slug']!r} appears twice")
            taken.add(plan["slug"])
            mine.append(plan)
        return {"base": plans, "enrichment": mine}

    def apply(plans: dict, *, actor_label: str) -> list[str]:
        changes = base.apply(plans["base"], actor_label=actor_label)
        for plan in plans["enrichment"]:
            changes += configuration.apply(plan, actor_label=actor_label)
        return changes

    def export() -> Any:
        others = [i for i in base.export() if i.get("type") != kind]
        return sorted([*others, *configuration.export()], key=lambda i: i["slug"])

    section = sections.Section("workflows", validate, apply, export)
    object.__setattr__(section, "enrichment", True)
    sections.SECTIONS[index] = section


def _reprocess_run_create(*, workflow: Any, parent: Any, actor: Any) -> Any:
    from enrichment.services import enrichment_run_create
    from pipelines.models import RunTrigger

    return enrichment_run_create(
        workflow=workflow, trigger=RunTrigger.REPROCESS, actor=actor, parent=parent
    )


def _reprocess_dispatch(*, run: Any) -> None:
    from enrichment.services import enrichment_run_dispatch

    enrichment_run_dispatch(run=run)


def hooks_register() -> None:
    from pipelines.models import WorkflowType
    from pipelines.services import dead_letters

    kind = WorkflowType.COMPANY_ENRICHMENT
    _workflows_section_extend()
    dead_letters.REPROCESS_RUN_CREATORS[kind] = _reprocess_run_create
    dead_letters.REPROCESS_RUN_DISPATCHERS[kind] = _reprocess_dispatch
