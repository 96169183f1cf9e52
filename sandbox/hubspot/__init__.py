"""A HubSpot CRM v3 test double (pure-Python WSGI, stdlib only). See docs/sandbox.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .app import ConnectionDropped, HubSpotSandbox

if TYPE_CHECKING:
    import threading

    from .server import ThreadingWSGIServer


def serve(
    app: HubSpotSandbox, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Serve ``app`` on a threaded wsgiref server in a background thread."""
    from .server import serve as _serve

    return _serve(app, host, port)


__all__ = ["ConnectionDropped", "HubSpotSandbox", "serve"]
