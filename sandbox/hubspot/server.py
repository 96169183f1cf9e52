"""Serve the sandbox over real HTTP: a threaded wsgiref server with quiet logging."""

from __future__ import annotations

import socketserver
import sys
import threading
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import ConnectionDropped, HubSpotSandbox


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(ServerHandler):
    def handle_error(self) -> None:
        # A "drop" fault closes the socket without any response (fault test F7 of
        # docs/reference/reliability.md#fault-tests: "applied but the response lost").
        if isinstance(sys.exc_info()[1], ConnectionDropped):
            self.close()
            return
        super().handle_error()


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log on stderr; the sandbox keeps its own request_log."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


def serve(
    app: HubSpotSandbox, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Start serving in a daemon thread; port 0 picks a free one (``server.server_port``).
    Stop with ``server.shutdown(); server.server_close()``."""
    server = ThreadingWSGIServer((host, port), QuietRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, name="hubspot-sandbox", daemon=True)
    thread.start()
    return server, thread
