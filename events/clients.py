"""The client a subscriber sends through: always integrations.registry.client_for, with the
client's own retries off (the delivery row schedules retries)."""

from __future__ import annotations

from typing import Any

from events.models import Subscriber
from integrations.registry import client_for


def subscriber_client(subscriber: Subscriber) -> Any:
    return client_for(subscriber.connection, max_attempts=1)
