"""How pipelines reaches this app without importing it: the `workflows:` config section and
dead-letter reprocessing look up handlers by workflow type."""

from __future__ import annotations

from typing import Any


class _ConfigKind:
    @staticmethod
    def validate(item: dict, where: str, line: int | None) -> dict:
        from enrichment.configuration import validate

        return validate(item, where, line)

    @staticmethod
    def apply(plan: dict, *, actor_label: str) -> list[str]:
        from enrichment.configuration import apply

        return apply(plan, actor_label=actor_label)

    @staticmethod
    def export() -> list[dict]:
        from enrichment.configuration import export

        return export()


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
    from pipelines.configuration import workflows
    from pipelines.models import WorkflowType
    from pipelines.services import dead_letters

    kind = WorkflowType.COMPANY_ENRICHMENT
    workflows.WORKFLOW_KINDS[kind] = _ConfigKind()
    dead_letters.REPROCESS_RUN_CREATORS[kind] = _reprocess_run_create
    dead_letters.REPROCESS_RUN_DISPATCHERS[kind] = _reprocess_dispatch
