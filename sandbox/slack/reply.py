"""One answer of the Slack stand-in: status, body (JSON, text or bytes), content type."""

from __future__ import annotations

import json
from typing import Any


class Reply:
    def __init__(
        self, status: int, body: Any, content_type: str = "application/json", headers: Any = ()
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = list(headers)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()
