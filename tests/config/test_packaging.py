"""Packaging: a production install (requirements.lock) gets the runtime only, every pin is
hash-checked, and the development lock is the runtime lock plus the tools."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", re.MULTILINE)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {_canonical(name): version for name, version in _PIN.findall(text)}


def _declared(requirements: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in requirements}


def test_every_pin_carries_a_hash():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        pins = re.findall(r"^[A-Za-z0-9_.-]+==", text, re.MULTILINE)
        assert pins
        assert len(pins) == len(_PIN.findall(text))  # each pin line continues with its hashes
        assert text.count("--hash=sha256:") >= len(pins)


def test_production_gets_the_runtime_and_no_development_tool():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins("requirements.lock")
    assert _declared(project["dependencies"]) <= set(runtime)
    assert "gunicorn" in runtime
    for tool in ("pytest", "pytest-django", "ruff", "playwright", "factory-boy", "pip-tools"):
        assert tool not in runtime, tool
    assert "django-import-export" not in runtime


def test_the_development_lock_is_the_runtime_lock_plus_the_tools():
    runtime, development = _pins("requirements.lock"), _pins("requirements-dev.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {name: development.get(name) for name in runtime} == runtime
    assert _declared(project["optional-dependencies"]["dev"]) <= set(development)
