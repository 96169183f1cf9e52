"""What the small provider stand-ins (Apollo, BuiltWith, Clearbit) share: fixed rate-limit
windows, injected outages, a request log, a WSGI entry point and a ``__main__`` runner.

Test doubles only: no product module imports anything under ``sandbox/``. Behaviours and
their sources are listed in docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.hubspot.http import Reply, Request, status_line

StartResponse = Callable[..., Any]
WINDOW_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class FixedWindows:
    """Counters per (bucket, window) that reset at the window's boundary, as Apollo's fixed
    windows do (docs/sandbox.md). ``limits`` maps a window name to its limit per bucket."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.used: dict[tuple[str, str, int], int] = {}

    def check(self, bucket: str, limits: dict[str, int]) -> tuple[str | None, dict[str, int]]:
        """Count one call; the first exhausted window's name (not counted) or None."""
        now = self.clock()
        slots = {w: int(now // WINDOW_SECONDS[w]) for w in limits}
        for window, limit in limits.items():
            if self.used.get((bucket, window, slots[window]), 0) >= limit:
                return window, self.left(bucket, limits)
        for window in limits:
            key = (bucket, window, slots[window])
            self.used[key] = self.used.get(key, 0) + 1
        return None, self.left(bucket, limits)

    def left(self, bucket: str, limits: dict[str, int]) -> dict[str, int]:
        now = self.clock()
        return {
            w: max(0, limit - self.used.get((bucket, w, int(now // WINDOW_SECONDS[w])), 0))
            for w, limit in limits.items()
        }

    def seconds_to_reset(self, window: str) -> int:
        size = WINDOW_SECONDS[window]
        return max(1, int(size - self.clock() % size))


class StandIn:
    """Base WSGI app: an outage switch (status for the next N calls, or for every call),
    a request log, and ``handle(req) -> Reply`` that each provider implements."""

    name = "stand-in"

    def __init__(self, *, latency_ms: float = 0) -> None:
        self.lock = threading.RLock()
        self.latency_ms = latency_ms
        self.windows = FixedWindows()
        self.request_log: list[tuple[str, str, int]] = []
        self.outage_status: int | None = None
        self.outage_remaining: int | None = None

    # --- controls used by tests and the demo -------------------------------------------
    def fail(self, status: int | None, *, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` calls (None: until ``fail(None)``)."""
        with self.lock:
            self.outage_status, self.outage_remaining = status, times

    def calls(self, path_contains: str = "") -> int:
        with self.lock:
            return sum(1 for _m, p, _s in self.request_log if path_contains in p)

    def _outage(self) -> int | None:
        if self.outage_status is None:
            return None
        if self.outage_remaining is not None:
            if self.outage_remaining <= 0:
                self.outage_status = None
                return None
            self.outage_remaining -= 1
        return self.outage_status

    def outage_reply(self, status: int) -> Reply:
        return Reply(status, {"error": f"stand-in outage: {status}"})

    def handle(self, req: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        req = Request.from_environ(environ)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        with self.lock:
            forced = self._outage()
            reply = self.outage_reply(forced) if forced is not None else self.handle(req)
            self.request_log.append((req.method, req.path, reply.status))
        headers = [("Content-Type", reply.content_type), *reply.headers]
        start_response(status_line(reply.status), headers)
        return [reply.payload()]


def pick(domain: str, salt: str, options: list[Any] | tuple[Any, ...]) -> Any:
    """A stable choice per domain, so the same domain always gets the same answer."""
    digest = hashlib.sha256(f"{salt}:{domain}".encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def bare_domain(value: str) -> str:
    return value.strip().lower().removeprefix("http://").removeprefix("https://").split("/")[0]


def run_main(prog: str, default_port: int, build: Callable[[argparse.Namespace], StandIn]) -> int:
    """``python -m sandbox.<provider> --host --port``: serve until SIGTERM/SIGINT."""
    from sandbox.hubspot.server import QuietRequestHandler, ThreadingWSGIServer

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    app = build(args)
    server = ThreadingWSGIServer((args.host, args.port), QuietRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"{app.name} stand-in on http://{args.host}:{server.server_port}", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0
