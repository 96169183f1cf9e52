"""Fixtures for the HubSpot sandbox's own tests: pure Python, no database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.hubspot import HubSpotSandbox

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def client_for(app: HubSpotSandbox, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://sandbox", headers=headers
    )


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., tuple[HubSpotSandbox, httpx.Client]]]:
    """Build a sandbox with the given knobs and a client bound to it."""
    clients: list[httpx.Client] = []

    def build(**kwargs: Any) -> tuple[HubSpotSandbox, httpx.Client]:
        app = HubSpotSandbox(**kwargs)
        client = client_for(app)
        clients.append(client)
        return app, client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def hub(make_sandbox) -> tuple[HubSpotSandbox, httpx.Client]:
    return make_sandbox()


@pytest.fixture
def app(hub) -> HubSpotSandbox:
    return hub[0]


@pytest.fixture
def client(hub) -> httpx.Client:
    return hub[1]
