"""Paths joined onto a connection's base URL. No Django here: the transport uses it too.

A path typed by an admin (a scoring API's path) is joined onto the connection's checked base
URL. httpx treats an absolute URL ("http://evil/") or a scheme-relative one ("//evil/") as a
*replacement* for the base, which would send the connection's credential to any host; ".."
segments would leave the base's path prefix (https://api.example.com/scoring/../admin). So a
path must be relative in the strict sense below: checked at save, at `config apply`, and again
by the transport before every request (docs/security.md, "Hostile input").
"""

from __future__ import annotations

from urllib.parse import urlsplit

_PATH_MAX = 2000


def path_refusal(path: str) -> str | None:
    """Why `path` may not be joined onto a base URL, or None when it is a safe relative path."""
    if not isinstance(path, str):
        return "the path must be text"
    if len(path) > _PATH_MAX:
        return f"the path is longer than {_PATH_MAX} characters"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        return "the path contains spaces or control characters"
    if "\\" in path:
        return "the path contains a backslash"
    if "@" in path:
        return "the path contains '@' (user information belongs to no path)"
    if path.startswith("//"):
        return "the path is scheme-relative ('//host'): give a path such as /score"
    head = path.split("/", 1)[0].split("?", 1)[0]
    try:
        parts = urlsplit(path)
    except ValueError:
        return "the path is not a valid URL path"
    if ":" in head or parts.scheme or parts.netloc:
        return (
            "the path is an absolute URL: give a path such as /score (the host is the connection's)"
        )
    segments = path.split("?", 1)[0].split("#", 1)[0].split("/")
    decoded = {s.lower().replace("%2e", ".") for s in segments}
    if "." in decoded or ".." in decoded:
        return "the path contains '.' or '..' segments"
    if "%5c" in path.lower():
        return "the path contains an encoded backslash"
    return None
