"""Clay stand-in: table webhook sources that record rows, and "deep research" that calls
back after a delay (a Clay HTTP API column posting to the row's ``callback_url``).

Routes:
  POST /tables/<table>/webhook   a row (one JSON object) → 200 {"ok": true}; 503 when down
  GET  /_control/rows            rows per table, with the Idempotency-Key each came with
  POST /_control/down            {"down": true|false}: answer 503 to every row while down
  POST /_control/reset           forget rows

A row carrying ``callback_url`` gets, ``callback_delay`` seconds later, a POST to that URL
with ``{"summary", "score", "employees", "industry"}`` built from the row (``callback_sender`` is injectable
so tests can deliver the callback in-process).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from sandbox._standin import answer, read_json

Sender = Callable[[str, dict[str, Any]], None]


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - the URL is the test's own callback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310
    except OSError:
        pass  # a lost callback is what the wait step's timeout is for


class ClaySandbox:
    def __init__(
        self, *, callback_delay: float = 2.0, callback_sender: Sender | None = None
    ) -> None:
        self.callback_delay = callback_delay
        self.callback_sender = callback_sender or _post
        self.down = False
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def findings(self, row: dict[str, Any]) -> dict[str, Any]:
        company = row.get("company") or row.get("email", "").split("@")[-1] or "the company"
        return {
            "summary": f"{company}: 240 employees, hiring 12 engineers, uses HubSpot",
            "score": 87,
            "employees": 240,
            "industry": "Computer Software",
        }

    def __call__(self, environ: dict, start: Callable) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        body, data = read_json(environ)
        if path == "/_control/rows" and method == "GET":
            with self.lock:
                return answer(start, 200, {"tables": self.rows})
        if path == "/_control/down" and method == "POST":
            self.down = bool((data or {}).get("down", True))
            return answer(start, 200, {"down": self.down})
        if path == "/_control/reset" and method == "POST":
            with self.lock:
                self.rows.clear()
            return answer(start, 200, {"ok": True})
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "tables" or parts[2] != "webhook" or method != "POST":
            return answer(start, 404, {"error": "no such table webhook"})
        if self.down:
            return answer(start, 503, {"error": "Clay is unavailable"}, [("Retry-After", "1")])
        if not isinstance(data, dict):
            return answer(start, 400, {"error": "send one JSON object per row"})
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
        with self.lock:
            self.rows.setdefault(parts[1], []).append({"row": data, "idempotency_key": key})
        callback = data.get("callback_url")
        if isinstance(callback, str) and callback:
            findings = self.findings(data)
            if self.callback_delay <= 0:
                self.callback_sender(callback, findings)
            else:
                timer = threading.Timer(
                    self.callback_delay, self.callback_sender, (callback, findings)
                )
                timer.daemon = True
                timer.start()
        return answer(start, 200, {"ok": True})
