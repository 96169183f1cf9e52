"""Field mappings: versioned rules, and their validation against the destination portal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from django.db import transaction

from audit.services import audit_event_record
from integrations.errors import ProviderError
from pipelines.models import FieldMappingVersion, Workflow
from quality.transforms import validate_chain

RULE_KEYS = {"from", "to", "transforms", "required", "aliases"}


def field_mapping_rules_normalize(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored shape: exactly {from, to, transforms, required}, in the given order, plus
    "aliases" (other headers that feed the rule) only when there are some."""
    normalized = []
    for rule in rules:
        row = {
            "from": str(rule.get("from", "")).strip(),
            "to": str(rule.get("to", "")).strip(),
            "transforms": list(rule.get("transforms") or []),
            "required": bool(rule.get("required", False)),
        }
        aliases = [str(a).strip() for a in rule.get("aliases") or [] if str(a).strip()]
        if aliases:
            row["aliases"] = list(dict.fromkeys(aliases))
        normalized.append(row)
    return normalized


def field_mapping_rules_check(*, rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """Shape and transform problems, without asking HubSpot. [] when valid."""
    problems: list[str] = []
    if not isinstance(rules, Sequence) or isinstance(rules, str) or not rules:
        return ["A mapping needs at least one rule."]
    targets: dict[str, int] = {}
    for number, rule in enumerate(rules, start=1):
        where = f"Rule {number}"
        if not isinstance(rule, Mapping):
            problems.append(f"{where}: must be a table with from, to, transforms, required.")
            continue
        unknown = set(rule) - RULE_KEYS - {"__line__"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
        aliases = rule.get("aliases")
        if aliases is not None and (
            not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases)
        ):
            problems.append(f"{where}: 'aliases' must be a list of column names.")
        if not str(rule.get("from") or "").strip():
            problems.append(f"{where}: 'from' (the source column) is required.")
        target = str(rule.get("to") or "").strip()
        if not target:
            problems.append(f"{where}: 'to' (the HubSpot property) is required.")
        targets.setdefault(target, number)
        problems += [
            f"{where} ({rule.get('from')} → {target}): {p}"
            for p in validate_chain(rule.get("transforms") or [])
        ]
    return problems


def field_mapping_validate(
    *,
    workflow: Workflow,
    rules: Sequence[Mapping[str, Any]],
    transport: httpx.BaseTransport | None = None,
) -> list[str]:
    """Every problem with ``rules`` for this workflow, as sentences; [] when valid.

    Checks the shape and transform chains, then the destination's real property list
    (docs/reference/hubspot.md#properties): the property exists, is writable (not readOnlyValue, not calculated),
    and map_values outputs are valid enumeration option *values* (write value, never label).
    If HubSpot cannot be reached the property check is reported as skipped, not as valid.
    """
    from integrations.registry import client_for

    problems = field_mapping_rules_check(rules=rules)
    if problems:
        return problems
    match_on = workflow.match_on
    if not any(str(r.get("to")) == match_on for r in rules):
        problems.append(
            f"No rule maps to {match_on!r}: records are matched on it, so one rule must."
        )
    try:
        with client_for(workflow.destination_connection, transport=transport) as client:
            properties = {p["name"]: p for p in client.properties(workflow.destination_object)}
    except (ProviderError, ValueError) as exc:
        return [
            *problems,
            f"HubSpot properties could not be checked ({exc}); the rules above were not verified against the portal.",
        ]
    for number, rule in enumerate(rules, start=1):
        target = str(rule["to"])
        prop = properties.get(target)
        where = f"Rule {number} ({rule['from']} → {target})"
        if prop is None:
            problems.append(
                f"{where}: HubSpot has no {workflow.destination_object} property named {target!r}."
            )
            continue
        meta = prop.get("modificationMetadata") or {}
        if meta.get("readOnlyValue") or prop.get("calculated"):
            problems.append(f"{where}: {target!r} is read-only in HubSpot and cannot be written.")
        if prop.get("type") == "enumeration":
            allowed = {str(o.get("value")) for o in prop.get("options") or []}
            for item in rule.get("transforms") or []:
                if isinstance(item, Mapping) and item.get("name") == "map_values":
                    params = item.get("params") or {}
                    outputs = list((params.get("mapping") or {}).values())
                    if "default" in params:
                        outputs.append(params["default"])
                    bad = sorted(
                        {str(v) for v in outputs if v is not None and str(v) not in allowed}
                    )
                    if bad:
                        problems.append(
                            f"{where}: {', '.join(bad)} not among the option values of {target!r} "
                            f"({', '.join(sorted(allowed)) or 'none'}); write option values, not labels."
                        )
    return problems


def field_mapping_version_create(
    *,
    workflow: Workflow,
    rules: Sequence[Mapping[str, Any]],
    actor: Any = None,
    actor_label: str = "",
    note: str = "",
) -> FieldMappingVersion:
    """Save ``rules`` as the workflow's next mapping version, unless they equal the current
    one (then the current version is returned and nothing is written). Raises ValueError with
    every shape/transform problem. Audited with the before → after rules."""
    problems = field_mapping_rules_check(rules=rules)
    if problems:
        raise ValueError(" ".join(problems))
    normalized = field_mapping_rules_normalize(rules)
    with transaction.atomic():
        # Lock the workflow so two editors cannot both create "version N+1".
        Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
        current = workflow.mapping_versions.order_by("-version").first()
        if current is not None and current.rules == normalized:
            return current
        version = FieldMappingVersion.objects.create(
            workflow=workflow,
            version=(current.version + 1) if current else 1,
            rules=normalized,
            note=note[:300],
            created_by=actor if getattr(actor, "pk", None) else None,
            created_by_label=actor_label or (actor.get_username() if actor is not None else ""),
        )
        audit_event_record(
            action="field_mapping.version_created",
            actor=actor,
            actor_label=actor_label,
            obj=workflow,
            changes={"rules": [current.rules if current else None, normalized]},
            metadata={"version": version.version},
        )
    return version
