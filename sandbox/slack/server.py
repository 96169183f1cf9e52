"""Serve the Slack stand-in over real HTTP (the demo, end-to-end tests)."""

from __future__ import annotations

import threading

from sandbox.hubspot.server import QuietRequestHandler, ThreadingWSGIServer

from .app import SlackSandbox


def serve(
    app: SlackSandbox, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Start serving in a daemon thread; port 0 picks a free one (``server.server_port``).
    Stop with ``server.shutdown(); server.server_close()``."""
    server = ThreadingWSGIServer((host, port), QuietRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, name="slack-sandbox", daemon=True)
    thread.start()
    return server, thread
