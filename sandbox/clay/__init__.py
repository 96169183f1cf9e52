"""A Clay table-webhook stand-in (stdlib WSGI). See docs/sandbox.md, "Clay stand-in"."""

from .app import ClaySandbox

__all__ = ["ClaySandbox"]
