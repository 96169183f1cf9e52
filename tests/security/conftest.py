"""Hostile-input tests reuse the routing fixtures (sandbox, owners, routing, outside)."""

import pytest
from django.core.cache import cache

from tests.routing.conftest import outside, owners, routing, sandbox  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Alert quiet windows and failure counters live in the cache: none leaks to other tests."""
    cache.clear()
    yield
    cache.clear()
