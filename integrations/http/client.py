"""Generic JSON API client: one configured call whose answer is read at a dotted path.

For an internal scoring API configured in the admin: method, path, extra headers, auth
(``BearerAuth`` / ``HeaderAuth`` / ``BasicAuth`` from integrations.auth), a JSON body, and a
result path such as ``"data.score"`` or ``"results.0.score"``.
"""

from __future__ import annotations

from typing import Any

from integrations.errors import RequestRejected
from integrations.provider_client import ProviderClient
from integrations.transport import json_or_none

_MISSING = object()


class ResultMissing(RequestRejected):
    """The response has no value at the configured result path (a mapping problem)."""

    kind = "result_missing"


def extract(data: Any, path: str | None) -> Any:
    """Walk ``"a.b.0.c"`` through dicts and lists. Raises KeyError naming the missing step."""
    if not path:
        return data
    current = data
    for step in path.split("."):
        if isinstance(current, dict) and step in current:
            current = current[step]
        elif (
            isinstance(current, list)
            and step.lstrip("-").isdigit()
            and -len(current) <= int(step) < len(current)
        ):
            current = current[int(step)]
        else:
            raise KeyError(step)
    return current


class HttpJsonClient(ProviderClient):
    provider = "HTTP API"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        result_path: str | None = None,
    ) -> Any:
        """Send one request and return the value at ``result_path`` (the whole body if None).

        ``path`` is the configured path (no query string: pass ``params``); it is what the
        request log records, so keep ids and keys out of it.
        """
        if "?" in path:
            raise ValueError("put query parameters in params=, not in the path")
        response = self.http.request(
            method.upper(), path, raw_path=path, json=json, headers=headers, params=params
        )
        body = json_or_none(response)
        try:
            return extract(body, result_path)
        except KeyError as missing:
            raise ResultMissing(
                f"HTTP API {method.upper()} {path}: no value at {result_path!r} (missing {missing})",
                status=response.status_code,
            ) from None

    def ping(self, path: str = "/") -> bool:
        """Reachable and the credential accepted: any answer but 401/403/5xx will do, since a
        scoring API need not serve its root (404/405 are fine)."""
        self.http.request("GET", path, raw_path=path, accept=(404, 405))
        return True


JsonApiClient = HttpJsonClient  # the name used in the first draft of the brief
