"""The custom company properties a workflow writes, created in HubSpot when missing, in a
`switchyard` property group. ``properties_plan`` shows what would be created;
``properties_create`` creates exactly that. Needs crm.schemas.companies.write."""

from __future__ import annotations

from typing import Any

from audit.services import audit_event_record
from enrichment.selectors import enrichment_rules_current
from pipelines.models import Workflow

GROUP = {"name": "switchyard", "label": "Switchyard"}
_NUMBER = {"type": "number", "fieldType": "number"}
_TEXT = {"type": "string", "fieldType": "textarea"}


def _definition(name: str, *, is_score: bool) -> dict[str, Any]:
    kind = _NUMBER if is_score or name.endswith(("_score", "_count", "_spend")) else _TEXT
    label = name.removeprefix("switchyard_").replace("_", " ").capitalize()
    return {
        "name": name,
        "label": f"{label} (Switchyard)",
        **kind,
        "groupName": GROUP["name"],
        "description": "Written by Switchyard company enrichment.",
    }


def properties_plan(*, client: Any, workflow: Workflow) -> dict[str, Any]:
    """``{"group": bool (create it), "properties": [definitions to create]}``."""
    rules = enrichment_rules_current(workflow=workflow)
    if rules is None:
        raise ValueError(f"workflow {workflow.slug} has no enrichment rules")
    existing = {p["name"] for p in client.properties("companies")}
    score_property = rules.score.get("property")
    wanted = [f["to"] for f in rules.fields] + ([score_property] if score_property else [])
    missing = [n for n in dict.fromkeys(wanted) if n not in existing]
    groups = {g["name"] for g in client.property_groups("companies")} if missing else set()
    return {
        "group": bool(missing) and GROUP["name"] not in groups,
        "properties": [_definition(n, is_score=n == score_property) for n in missing],
    }


def properties_create(*, client: Any, plan: dict[str, Any], actor_label: str) -> list[str]:
    made = []
    if plan["group"]:
        client.create_property_group("companies", name=GROUP["name"], label=GROUP["label"])
        made.append(f"group {GROUP['name']}")
    for definition in plan["properties"]:
        client.create_property("companies", definition)
        made.append(definition["name"])
    if made:
        audit_event_record(
            action="enrichment.properties_created",
            actor_label=actor_label,
            object_type="hubspot.companies",
            object_id="properties",
            metadata={"created": made},
        )
    return made
