"""Slack notifications: incoming webhooks and chat.postMessage (docs/reference/slack.md)."""

from integrations.slack.client import SlackClient, SlackWebhookClient

__all__ = ["SlackClient", "SlackWebhookClient"]
