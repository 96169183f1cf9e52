"""Clearbit (legacy keys) stand-in (test double): ``python -m sandbox.clearbit --port 8769``."""

from .app import ClearbitSandbox

__all__ = ["ClearbitSandbox"]
