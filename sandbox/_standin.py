"""What the small stand-ins (Clay, finance) share: JSON answers and a threaded server.
Stdlib only; never imported by product code."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from sandbox.hubspot.server import serve as _serve

Start = Callable[[str, list[tuple[str, str]]], Any]


def answer(
    start: Start, status: int, body: Any, headers: list[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {
        200: "OK",
        202: "Accepted",
        401: "Unauthorized",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Entity",
        503: "Service Unavailable",
    }.get(status, "Status")
    start(f"{status} {reason}", [("Content-Type", "application/json"), *headers])
    return [data]


def read_json(environ: dict) -> tuple[bytes, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        return body, json.loads(body or b"null")
    except ValueError:
        return body, None


def run_forever(app: Any, host: str, port: int, label: str) -> int:
    server, thread = _serve(app, host, port)
    print(f"{label} on http://{host}:{server.server_port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    return 0
