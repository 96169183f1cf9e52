"""Pipelines models, split by topic. Import from here: `from pipelines.models import Run`."""

from pipelines.models.events import InboundEvent
from pipelines.models.routing import (  # MQL routing (issue 5)
    DecisionStatus,
    DecisionTrigger,
    Owner,
    OwnerDailyCount,
    RoutingConfig,
    RoutingDecision,
    RoutingStrategy,
    ScoringRule,
    StrategyState,
    Territory,
    TerritoryOwner,
    TerritoryRule,
)
from pipelines.models.runs import (
    BatchState,
    DeadLetter,
    DeadLetterResolution,
    RecordSource,
    RecordState,
    Run,
    RunBatch,
    RunRecord,
    RunStatus,
    RunTrigger,
    SkipReason,
)
from pipelines.models.sync_state import SyncedContact
from pipelines.models.workflows import FieldMappingVersion, Workflow, WorkflowType

__all__ = [
    "DecisionStatus",
    "DecisionTrigger",
    "Owner",
    "OwnerDailyCount",
    "RoutingConfig",
    "RoutingDecision",
    "RoutingStrategy",
    "ScoringRule",
    "StrategyState",
    "Territory",
    "TerritoryOwner",
    "TerritoryRule",
    "BatchState",
    "DeadLetter",
    "DeadLetterResolution",
    "FieldMappingVersion",
    "InboundEvent",
    "RecordSource",
    "RecordState",
    "Run",
    "RunBatch",
    "RunRecord",
    "RunStatus",
    "RunTrigger",
    "SkipReason",
    "SyncedContact",
    "Workflow",
    "WorkflowType",
]
