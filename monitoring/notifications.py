"""Telling people: Slack through the registry's client (a bot token and a channel, or an
incoming webhook), email through Django's mail backend. One message per state change."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from monitoring.models import Alert, AlertRule


def alert_message(*, alert: Alert, resolved: bool) -> str:
    link = f"{settings.PUBLIC_BASE_URL}/{settings.ADMIN_URL}"
    if resolved:
        return f"RESOLVED [{alert.severity}] {alert.rule.name}: {alert.summary} <{link}|Operations>"
    return (
        f"[{alert.severity.upper()}] {alert.rule.name}: {alert.summary}"
        f"{' (' + alert.evidence + ')' if alert.evidence else ''} <{link}|Operations>"
    )


def email_recipients(rule: AlertRule) -> list[str]:
    if rule.email_to:
        return [a.strip() for a in rule.email_to.split(",") if a.strip()]
    if rule.slack_connection_id:
        return []
    return [address for _, address in settings.ADMINS]


def alert_channels_send(*, alert: Alert, resolved: bool, transport=None) -> list[str]:
    """Send to every channel of the rule; returns what was sent ("slack:#x", "email:2").
    Raises on the first failing channel, so the caller records the failure and retries."""
    from integrations.registry import client_for
    from integrations.slack.client import SlackClient

    rule, text, sent = alert.rule, alert_message(alert=alert, resolved=resolved), []
    if rule.slack_connection_id:
        client = client_for(rule.slack_connection, transport=transport)
        try:
            if isinstance(client, SlackClient):
                channel = rule.slack_channel or rule.slack_connection.options.get("channel", "")
                client.post_message(channel, text)
                sent.append(f"slack:{channel}")
            else:
                client.post(text)
                sent.append("slack:webhook")
        finally:
            client.close()
    recipients = email_recipients(rule)
    if recipients:
        subject = f"{'Resolved' if resolved else alert.severity.capitalize()}: {alert.summary}"
        send_mail(
            f"{settings.EMAIL_SUBJECT_PREFIX}{subject}"[:200],
            text,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
        sent.append(f"email:{len(recipients)}")
    return sent
