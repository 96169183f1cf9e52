"""Slack notifications: incoming webhooks and chat.postMessage (providers.md §6)."""

from integrations.slack.client import SlackClient, SlackWebhookClient

__all__ = ["SlackClient", "SlackWebhookClient"]
