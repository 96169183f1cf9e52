"""What every provider client shares: one ProviderHTTP built from the connection's config, closed
with the client. A provider sets its display name and, if its error bodies need reading, an
error parser; everything else (retries, limits, request log) lives in the ProviderHTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from integrations.errors import ProviderError
from integrations.transport import ClientConfig, ProviderHTTP, RequestRecord


class ProviderClient:
    provider = "provider"

    def __init__(
        self,
        config: ClientConfig,
        auth: Any = None,
        *,
        transport: httpx.BaseTransport | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **transport_options: Any,
    ) -> None:
        self.config = config
        self.http = ProviderHTTP(
            config,
            auth,
            provider=self.provider,
            transport=transport,
            on_request=on_request,
            error_parser=self.error_parser(),
            sleep=sleep,
            **transport_options,
        )

    def error_parser(self) -> Callable[[httpx.Response], ProviderError | None] | None:
        """None: the ProviderHTTP's status-code classification is enough for this provider."""
        return None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
