"""The arrows of docs/architecture.md, checked on the source: a wrong import fails here, not in
a code review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from celery import current_app

from pipelines import enqueue

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = (
    "config",
    "audit",
    "integrations",
    "quality",
    "pipelines",
    "monitoring",
    "enrichment",
    "events",
)
OURS = (*PRODUCT, "sandbox")

# What each package may import of ours (itself always).
ALLOWED = {
    "config": set(),
    "audit": {"config"},
    "integrations": {"config", "audit"},
    "quality": {"config", "audit", "integrations", "pipelines"},
    "pipelines": {"config", "audit", "integrations", "quality"},
    "monitoring": {"config", "audit", "integrations", "quality", "pipelines"},
    "enrichment": {"config", "audit", "integrations", "quality", "pipelines"},
    "events": {"config", "audit", "integrations", "pipelines"},
}
# The wiring, allowed to name every app: the URLconf, the demo command seeding them all, and
# the one place every app's config section registers in order.
WIRING = {
    "config/urls.py",
    "pipelines/management/commands/demo_seed.py",
    "pipelines/configuration/sections.py",
}
# quality's normalizers and transforms are pure: nothing of ours, no database.
PURE = ("addresses", "columns", "countries", "errors", "normalize", "transforms", "validation")

# Batch and chunk dispatch and the sweeper still import their tasks inside functions; they are
# being reshaped with the loader (its decision apart from its persistence, named sweepers).
TASK_IMPORTS_PENDING: set[str] = set()


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at function level) for every import in the file."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        nested = node.col_offset > 0
        found += [(name, nested) for name in names]
    return found


def _sources(package: str) -> list[Path]:
    return [
        p
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts and "__pycache__" not in p.parts
    ]


@pytest.mark.parametrize("package", PRODUCT)
def test_imports_point_one_way_and_never_at_the_sandbox(package):
    wrong = []
    for path in _sources(package):
        if path.relative_to(ROOT).as_posix() in WIRING:
            continue
        for module, _ in _imports(path):
            top = module.split(".")[0]
            if top in OURS and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_quality_normalizers_are_pure():
    wrong = [
        f"quality/{name}.py imports {module}"
        for name in PURE
        for module, _ in _imports(ROOT / "quality" / f"{name}.py")
        if module.split(".")[0] in {*OURS, "django"} - {"quality"}
    ]
    assert wrong == []


def test_services_enqueue_through_one_module():
    hidden = []
    for path in [*_sources("pipelines"), *_sources("events"), *_sources("enrichment")]:
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "tasks.py" or path.name == "apps.py" or relative in TASK_IMPORTS_PENDING:
            continue
        hidden += [
            f"{relative} imports {module}"
            for module, _ in _imports(path)
            if module.endswith(".tasks") or ".tasks." in module
        ]
    assert hidden == []


def test_every_task_name_enqueue_sends_is_registered():
    names = [v for k, v in vars(enqueue).items() if k.isupper() and isinstance(v, str)]
    assert len(names) >= 5
    assert [n for n in names if n not in current_app.tasks] == []
