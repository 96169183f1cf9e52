"""Quality rules per workflow (placeholder until rules are editable)."""

from __future__ import annotations


def quality_rules_required_fields(*, workflow_id: int) -> list[str]:
    return []
