"""Rows into a Clay table through its webhook source (docs/events.md, "Clay table webhook").

The connection's base URL is the table's webhook URL
(``https://api.clay.com/v3/sources/webhook/pull-in-data-from-a-webhook-<id>``); its optional
auth token goes in ``x-clay-webhook-auth`` (auth type "shared secret in a header" with that
header name). Each POST of one JSON object becomes one row, its top-level keys the columns.
Clay documents no idempotency header; we still send ``Idempotency-Key`` (harmless, and a
table with an ``Idempotency-Key``-aware relay in front can use it).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx

from integrations.errors import RequestRejected
from integrations.provider_client import ProviderClient
from integrations.transport import ClientConfig

# Clay stores a row up to about 100 KB (docs/events.md); bigger rows are refused here, as a
# permanent error the delivery dead-letters, instead of being truncated by Clay.
MAX_ROW_BYTES = 100_000


class ClayTableClient(ProviderClient):
    provider = "Clay"

    def __init__(self, config: ClientConfig, auth: Any = None, **kwargs: Any) -> None:
        # The origin is the base; the table's path is sent as is (no trailing slash added).
        url = httpx.URL(config.base_url)
        self._path = url.path or "/"
        origin = dataclasses.replace(config, base_url=f"{url.scheme}://{url.netloc.decode()}")
        super().__init__(origin, auth, **kwargs)

    def row_send(self, row: dict[str, Any], *, idempotency_key: str = "") -> None:
        if len(json.dumps(row).encode()) > MAX_ROW_BYTES:
            raise RequestRejected("the row is larger than Clay's 100 KB per row", status=413)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        # The table's path identifies it: sent as raw_path, logged only as the template.
        self.http.request(
            "POST", "/v3/sources/webhook/{table}", raw_path=self._path, json=row, headers=headers
        )

    def ping(self) -> bool:
        return True  # a table webhook has no read endpoint; the first row proves it
