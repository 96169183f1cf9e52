"""Reads of quality measurements."""

from __future__ import annotations

from datetime import datetime

from quality.models import QualityRule, RunQuality
from quality.rules import RuleSpec


def run_quality_latest(*, workflow_id: int) -> RunQuality | None:
    return RunQuality.objects.filter(workflow_id=workflow_id).order_by("-measured_at").first()


def run_quality_since(*, workflow_id: int, since: datetime) -> list[RunQuality]:
    return list(
        RunQuality.objects.filter(workflow_id=workflow_id, measured_at__gte=since).order_by(
            "measured_at"
        )
    )


def quality_rule_specs(*, workflow_id: int, object_type: str) -> list[RuleSpec]:
    return [
        RuleSpec(
            field=rule.field,
            check=rule.kind,
            format=rule.format,
            min_value=rule.min_value,
            max_value=rule.max_value,
            allowed=frozenset(
                line.strip().lower() for line in rule.allowed_values.splitlines() if line.strip()
            ),
            when_field=rule.when_field,
            when_value=rule.when_value,
            severity=rule.severity,
        )
        for rule in QualityRule.objects.filter(
            workflow_id=workflow_id, object_type=object_type, enabled=True
        )
    ]


def quality_rules_required_fields(*, workflow_id: int) -> list[str]:
    return list(
        QualityRule.objects.filter(workflow_id=workflow_id, kind="required", enabled=True)
        .values_list("field", flat=True)
        .distinct()
    )
