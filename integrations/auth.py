"""Credential objects handed to a ProviderHTTP.

The contract is duck-typed so the lead's OAuth auth (refreshing from ``expires_at``) fits:

- ``headers() -> dict[str, str]``: required; called before every attempt.
- ``params() -> dict[str, str]``: optional; query parameters (BuiltWith's ``KEY``).
- ``secrets() -> list[str]``: optional; values the ProviderHTTP scrubs from any message it builds.
"""

from __future__ import annotations

import base64


class NoAuth:
    def headers(self) -> dict[str, str]:
        return {}

    def secrets(self) -> list[str]:
        return []


class BearerAuth:
    """``Authorization: Bearer <token>``: HubSpot private apps, Slack bots, Clearbit."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def secrets(self) -> list[str]:
        return [self._token]

    def __repr__(self) -> str:
        return "BearerAuth(****)"


class HeaderAuth:
    """A key in a named header: Apollo ``X-Api-Key``, Clay ``x-clay-webhook-auth``."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    def headers(self) -> dict[str, str]:
        return {self.name: self._value}

    def secrets(self) -> list[str]:
        return [self._value]

    def __repr__(self) -> str:
        return f"HeaderAuth({self.name!r}, ****)"


class BasicAuth:
    def __init__(self, username: str, password: str = "") -> None:
        self._username = username
        self._password = password

    def headers(self) -> dict[str, str]:
        raw = f"{self._username}:{self._password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

    def secrets(self) -> list[str]:
        return [s for s in (self._username, self._password) if s]

    def __repr__(self) -> str:
        return "BasicAuth(****)"


class QueryKeyAuth:
    """A key in the query string (BuiltWith ``KEY=``, docs/reference/builtwith.md). The ProviderHTTP masks it
    in everything it logs or raises; prefer a header wherever the provider allows one."""

    def __init__(self, value: str, name: str = "KEY") -> None:
        self.name = name
        self._value = value

    def headers(self) -> dict[str, str]:
        return {}

    def params(self) -> dict[str, str]:
        return {self.name: self._value}

    def secrets(self) -> list[str]:
        return [self._value]

    def __repr__(self) -> str:
        return f"QueryKeyAuth(****, name={self.name!r})"
