"""Event hub models: events in, subscriptions and their subscribers, one delivery per
(event, subscriber); multi-step executions in their own module."""

from events.models.executions import (
    Execution,
    ExecutionState,
    ExecutionStep,
    StepState,
    WorkflowDefinition,
)
from events.models.hub import (
    Delivery,
    DeliveryLetter,
    DeliveryState,
    Event,
    EventSourceKind,
    Subscriber,
    SubscriberKind,
    SubscriberState,
    Subscription,
    TriggerCondition,
)

__all__ = [
    "Delivery",
    "DeliveryLetter",
    "DeliveryState",
    "Event",
    "EventSourceKind",
    "Execution",
    "ExecutionState",
    "ExecutionStep",
    "StepState",
    "Subscriber",
    "SubscriberKind",
    "SubscriberState",
    "Subscription",
    "TriggerCondition",
    "WorkflowDefinition",
]
