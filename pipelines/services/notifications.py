"""What became of a Slack notification, kept where an admin and the alerts see it.

A failed message marks its run or routing decision *notification failed* (admin column and
filter) and is audited as ``notification.failed``, which alerts count
(``pipelines.selectors.notifications_failed_count``). When Slack says the destination is gone
(a revoked webhook, an archived or deleted channel) the Slack connection is marked *needs
attention*, so nothing calls it again until an admin fixes it (docs/connections.md, Slack).
"""

from __future__ import annotations

import logging

from audit.services import audit_event_record
from integrations.errors import ProviderError
from integrations.models import Connection
from integrations.services import connection_mark_needs_attention
from pipelines.models import NotificationStatus, RoutingConfig, RoutingDecision, Run
from pipelines.selectors import NOTIFICATION_FAILED

logger = logging.getLogger(__name__)


def notification_sent(*, subject: Run | RoutingDecision) -> None:
    subject.notification_status = NotificationStatus.SENT
    subject.notification_error = ""
    type(subject).objects.filter(pk=subject.pk).update(
        notification_status=NotificationStatus.SENT, notification_error=""
    )


def notification_failed(
    *,
    subject: Run | RoutingDecision | RoutingConfig,
    connection: Connection,
    error: ProviderError,
    what: str,
) -> None:
    """Record a message Slack did not take. ``subject`` is the run or decision it was about
    (a routing config for its alerts); ``what`` names the message ("run summary")."""
    message = f"Slack ({connection.name}): {error}"[:300]
    if isinstance(subject, Run | RoutingDecision):
        subject.notification_status = NotificationStatus.FAILED
        subject.notification_error = message
        type(subject).objects.filter(pk=subject.pk).update(
            notification_status=NotificationStatus.FAILED, notification_error=message
        )
    audit_event_record(
        action=NOTIFICATION_FAILED,
        actor_label="notifications",
        obj=subject,
        metadata={
            "what": what,
            "connection": connection.name,
            "category": error.category or error.kind,
            "permanent": error.permanent,
        },
    )
    logger.warning("%s not delivered: %s", what, message)
    if error.context.get("disable_destination"):
        connection_mark_needs_attention(
            connection_id=connection.pk,
            reason=(
                f"Slack says the destination is gone ({error.category}) while sending a {what}: "
                "replace the webhook URL or fix the channel."
            ),
        )
