"""Telling people: the assigned rep on Slack, and the RevOps channel when routing degrades."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from audit.services import audit_event_record
from integrations.errors import ProviderError
from pipelines.models import RoutingConfig, RoutingDecision

logger = logging.getLogger(__name__)

# One alert per configuration and kind per quarter hour: when the scoring API is down every
# lead would otherwise post the same message (Slack allows ~1 message/s, docs/reference/slack.md#chatpostmessage).
ALERT_QUIET_SECONDS = 15 * 60


def hubspot_contact_link(*, config: RoutingConfig, contact_id: str) -> str:
    portal = config.portal_id or str(config.hubspot_connection.options.get("portal_id", ""))
    return f"https://app.hubspot.com/contacts/{portal}/record/0-1/{contact_id}"


def _slack_post(
    *, config: RoutingConfig, channel: str, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    from integrations.registry import client_for

    client = client_for(config.slack_connection)
    try:
        client.post_message(channel, text, blocks=blocks)
    finally:
        client.close()


def rep_notify(*, decision: RoutingDecision) -> bool:
    """Post the lead to the configured channel (mentioning the rep) or, with no channel, as a
    DM to the rep's Slack user. False when there is nowhere to post."""
    config, owner = decision.config, decision.owner
    if config.slack_connection_id is None or owner is None:
        return False
    channel = config.slack_channel or owner.slack_user_id
    if not channel:
        return False
    contact = decision.inputs.get("contact", {})
    company = decision.inputs.get("company", {})
    who = (
        " ".join(filter(None, [contact.get("firstname"), contact.get("lastname")]))
        or contact.get("email")
        or f"contact {decision.contact_id}"
    )
    mention = (
        f"<@{owner.slack_user_id}>" if owner.slack_user_id and config.slack_channel else owner.name
    )
    link = hubspot_contact_link(config=config, contact_id=decision.contact_id)
    facts = [
        f"*Company:* {company.get('name') or contact.get('company') or '—'}",
        f"*Title:* {contact.get('jobtitle') or '—'}",
        f"*Country:* {contact.get('country') or company.get('country') or '—'}",
        f"*Score:* {'—' if decision.score is None else decision.score}",
        f"*Territory:* {decision.territory.name if decision.territory else '—'}",
    ]
    if decision.deal_id:
        facts.append(f"*Deal:* {decision.deal_id}")
    text = f"New MQL for {mention}: {who} (score {decision.score if decision.score is not None else '—'}) {link}"
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"New MQL for {mention}: *<{link}|{who}>*"},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fact} for fact in facts]},
    ]
    _slack_post(config=config, channel=channel, text=text, blocks=blocks)
    return True


def routing_alert(*, config: RoutingConfig, kind: str, message: str) -> None:
    """Log, audit and (once per quiet period) post to the configured channel."""
    logger.error("routing alert (%s) for %s: %s", kind, config.workflow.slug, message)
    if not cache.add(f"switchyard:routing:alert:{config.pk}:{kind}", 1, ALERT_QUIET_SECONDS):
        return
    audit_event_record(
        action=f"routing.alert.{kind}",
        actor_label="routing",
        obj=config.workflow,
        metadata={"message": message[:300]},
    )
    if config.slack_connection_id and config.slack_channel:
        try:
            _slack_post(
                config=config,
                channel=config.slack_channel,
                text=f":warning: Routing {config.workflow.slug}: {message}",
            )
        except ProviderError:
            logger.exception("could not post the routing alert to Slack")
