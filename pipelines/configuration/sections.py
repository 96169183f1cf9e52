"""Every section of the configuration file, registered in one place.

`config apply` runs them, and `config export` prints them, in SECTION_ORDER
(pipelines/configuration/__init__.py); a section registered elsewhere with `section_register`
runs after these.
"""

from __future__ import annotations

from integrations.config_sections import (
    ConnectionItem,
    connections_apply,
    connections_export,
    connections_plan,
)
from monitoring.config_sections import AlertItem, alerts_apply, alerts_export, alerts_plan
from pipelines.configuration import schema_section, section_register
from pipelines.configuration.workflows import (
    WorkflowItem,
    workflows_apply,
    workflows_export,
    workflows_plan,
)
from pipelines.routing.config_sections import (
    RoutingItem,
    TerritoryItem,
    routing_apply,
    routing_export,
    routing_plan,
    territories_apply,
    territories_export,
    territories_plan,
)


def sections_register() -> None:
    section_register(
        schema_section(
            "connections",
            schema=ConnectionItem,
            plan=connections_plan,
            apply=connections_apply,
            export=connections_export,
        )
    )
    section_register(
        schema_section(
            "workflows",
            schema=WorkflowItem,
            plan=workflows_plan,
            apply=workflows_apply,
            export=workflows_export,
        )
    )
    section_register(
        schema_section(
            "territories",
            schema=TerritoryItem,
            plan=territories_plan,
            apply=territories_apply,
            export=territories_export,
        )
    )
    section_register(
        schema_section(
            "routing",
            schema=RoutingItem,
            plan=routing_plan,
            apply=routing_apply,
            export=routing_export,
            one_or_many=True,
        )
    )
    section_register(
        schema_section(
            "alerts",
            schema=AlertItem,
            plan=alerts_plan,
            apply=alerts_apply,
            export=alerts_export,
        )
    )
