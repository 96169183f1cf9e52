"""Finance API stand-in: receives signed webhooks and counts them.

Its own stdlib check of the Standard Webhooks signature (not the product's code, so a bug in
our signer cannot hide behind the same bug in the verifier): ``v1,base64(HMAC-SHA256(key,
"{webhook-id}.{webhook-timestamp}.{body}"))``, key = base64 after ``whsec_``, ±300 s.

Routes:
  POST /<anything>        a signed delivery → 200 {"id": ...}; 401 bad signature; 422 an
                          invoice without ``data.amount``; 503 while down
  GET  /_control/stats    {"received", "unique", "duplicates", "rejected", "by_path"}
  POST /_control/down     {"down": true|false}
  POST /_control/reset
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sandbox._standin import answer, read_json


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()


class FinanceReceiver:
    def __init__(self, *, secrets: list[str], latency: float = 0.0) -> None:
        self.secrets = secrets
        self.latency = latency
        self.down = False
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.ids: Counter[str] = Counter()
        self.received = 0
        self.rejected = 0
        self.by_path: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "received": self.received,
                "unique": len(self.ids),
                "duplicates": sum(n - 1 for n in self.ids.values()),
                "rejected": self.rejected,
                "by_path": dict(self.by_path),
            }

    def _verified(self, environ: dict, body: bytes) -> str | None:
        message_id = environ.get("HTTP_WEBHOOK_ID", "")
        stamp = environ.get("HTTP_WEBHOOK_TIMESTAMP", "")
        given = environ.get("HTTP_WEBHOOK_SIGNATURE", "").split()
        if not (message_id and stamp.isdigit() and given):
            return None
        if abs(time.time() - int(stamp)) > 300:
            return None
        signed = f"{message_id}.{stamp}.".encode() + body
        for secret in self.secrets:
            digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
            wanted = "v1," + base64.b64encode(digest).decode()
            if any(hmac.compare_digest(wanted, entry) for entry in given):
                return message_id
        return None

    def __call__(self, environ: dict, start: Callable) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        body, data = read_json(environ)
        if path == "/_control/stats":
            return answer(start, 200, self.stats())
        if path == "/_control/down" and method == "POST":
            self.down = bool((data or {}).get("down", True))
            return answer(start, 200, {"down": self.down})
        if path == "/_control/reset" and method == "POST":
            with self.lock:
                self.reset()
            return answer(start, 200, {"ok": True})
        if method != "POST":
            return answer(start, 404, {"error": "POST deliveries here"})
        if self.latency:
            time.sleep(self.latency)
        if self.down:
            return answer(start, 503, {"error": "finance API down"}, [("Retry-After", "2")])
        message_id = self._verified(environ, body)
        if message_id is None:
            with self.lock:
                self.rejected += 1
            return answer(start, 401, {"error": "bad or missing Standard Webhooks signature"})
        payload_data = (data or {}).get("data") or {}
        if path.startswith("/invoices") and payload_data.get("amount") in (None, ""):
            return answer(start, 422, {"error": "an invoice needs data.amount"})
        with self.lock:
            self.received += 1
            self.ids[message_id] += 1
            self.by_path[path] += 1
            self.bodies.append(data)
        return answer(start, 200, {"id": message_id})
