"""Shared doubles for provider-client tests: HTTP is stubbed at one boundary, httpx.MockTransport."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest

from integrations.transport import ClientConfig, RequestRecord


class Calls:
    """Records every request a MockTransport handler saw."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __len__(self) -> int:
        return len(self.requests)

    def json(self, n: int = -1):
        return json.loads(self.requests[n].content)


def mock(
    handler: Callable[[httpx.Request], httpx.Response], calls: Calls | None = None
) -> httpx.MockTransport:
    def wrapped(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.requests.append(request)
        return handler(request)

    return httpx.MockTransport(wrapped)


def sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering each request with the next response (or raising the next error)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def config() -> ClientConfig:
    return ClientConfig(base_url="https://api.example.test", limiter_key=f"test-{uuid.uuid4()}")
