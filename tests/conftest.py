"""Personas used across the suite: one user per role, plus an outsider with no role."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.auth.models import Group

from audit.roles import INTEGRATION_ENGINEER, REVOPS_ADMIN, VIEWER
from integrations import registry
from sandbox.hubspot import HubSpotSandbox
from tests.factories import UserFactory

# The company-enrichment world (stand-ins, connections, workflow) for its suite and the e2e walk.
pytest_plugins = ["tests.enrichment.world"]

PERSONA_ROLES = {
    "admin": REVOPS_ADMIN,
    "engineer": INTEGRATION_ENGINEER,
    "viewer": VIEWER,
    "outsider": None,
}


def make_persona(name: str):
    role = PERSONA_ROLES[name]
    user = UserFactory(username=f"{name}-persona", is_staff=role is not None)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db):
    """Alice, a RevOps admin: mappings, territory rules, imports, dead letters."""
    return make_persona("admin")


@pytest.fixture
def engineer(db):
    """Erin, an integration engineer: everything Alice does, plus connections and schedules."""
    return make_persona("engineer")


@pytest.fixture
def viewer(db):
    """Victor, read-only."""
    return make_persona("viewer")


@pytest.fixture
def outsider(db):
    """Oscar has an account but no role."""
    return make_persona("outsider")


@pytest.fixture
def persona(request, db):
    """Parametrize with the persona's name: `@pytest.mark.parametrize("persona", [...], indirect=True)`."""
    return make_persona(request.param)


@pytest.fixture
def sandbox(monkeypatch):
    """A fresh HubSpot sandbox behind every provider client (load, property lists, previews):
    HTTP stubbed at one boundary, in-process. Suites that need other sandbox settings
    (tokens, owners) override this fixture."""
    app = HubSpotSandbox(seed=1)
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.WSGITransport(app=app))
    return app


@pytest.fixture(autouse=True)
def _audit_aggregation_fresh():
    """Unauthenticated failures are counted per window in the cache (audit/aggregate.py):
    each test starts with no window open, so its first failure is recorded."""
    from django.core.cache import cache

    for key in list(cache.get("switchyard:audit:aggregate:pending") or {}):
        cache.delete(key)
    cache.delete("switchyard:audit:aggregate:pending")
    # The audit filter's list of actions is cached for minutes (audit/selectors.py): a list
    # cached by an earlier test would hide the actions this test records.
    cache.delete("audit:actions")


@pytest.fixture
def fresh_wake_windows():
    """Each test starts as a fresh web process: no wake-up window open (pipelines.claims), and
    nothing in the cache."""
    from django.core.cache import cache

    from pipelines import claims

    claims._windows_open.clear()
    cache.clear()
    yield
    claims._windows_open.clear()
