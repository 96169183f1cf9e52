"""BuiltWith stand-in (test double): ``python -m sandbox.builtwith --port 8768``."""

from .app import BuiltWithSandbox

__all__ = ["BuiltWithSandbox"]
