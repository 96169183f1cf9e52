"""A Slack stand-in for tests and the demo: the Web API methods and incoming webhooks
Switchyard calls, with Slack's error shapes. See docs/sandbox.md ("Slack stand-in")."""

from .app import SlackSandbox
from .server import serve

__all__ = ["SlackSandbox", "serve"]
