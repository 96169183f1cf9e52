"""Bounds for untrusted input: webhook headers and bodies, uploaded rows, stored payloads.

Each function turns one class of hostile input into a clear refusal or a safe value
(docs/security.md, "Hostile input"):

- ``bounded_int``: a header that should hold a Unix timestamp may hold 400 digits; Python
  parses it, and comparing it with the clock then raises OverflowError (a 500 before the
  signature is even checked). At most 15 digits are read; anything else is "not a timestamp".
- ``json_loads_bounded``: deeply nested JSON raises RecursionError in the parser, and a
  payload just under the interpreter's limit fails later, wherever it is rendered. Depth is
  bounded at parse time (``JSON_MAX_DEPTH``) with the limit named in the refusal.
- ``json_render``: stored payloads written before that bound (or by another path) are shown
  cut at the same depth instead of raising.
- ``webhook_body_read``: a webhook body is refused from its headers (length, content type,
  required signature headers) before a byte is read, then read to at most the limit, so an
  unauthenticated sender cannot make the server buffer megabytes.
- ``nul_strip``: PostgreSQL text and jsonb cannot hold U+0000 (COPY fails with
  ``UntranslatableCharacter``; jsonb refuses ``\\u0000``) while SQLite can. NUL characters are
  removed from every key and value, on every database alike, and the caller records a warning.
"""

from __future__ import annotations

import json
import re
from typing import Any

TIMESTAMP_MAX_DIGITS = 15  # milliseconds until the year 33658
JSON_MAX_DEPTH = 64  # CRM records nest 3-4 levels; 64 leaves room for any real sender
_DIGITS = re.compile(rf"[0-9]{{1,{TIMESTAMP_MAX_DIGITS}}}")
NUL = "\x00"


def bounded_int(text: Any) -> int | None:
    """The integer in a header holding 1-15 ASCII digits, else None."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


class JsonTooDeep(ValueError):
    """The JSON nests deeper than the limit; the message names the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when `value` nests containers deeper than `limit`. Iterative: no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads_bounded(data: bytes | str, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """json.loads, refusing nesting deeper than `max_depth` with JsonTooDeep. Other problems
    raise what json.loads raises (JSONDecodeError, UnicodeDecodeError)."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    if json_depth_exceeds(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value


def json_clip(value: Any, limit: int = JSON_MAX_DEPTH, _depth: int = 1) -> Any:
    """A copy of `value` with containers deeper than `limit` replaced by a note. Recursion
    is bounded by `limit`, whatever the depth of `value`."""
    if not isinstance(value, dict | list):
        return value
    if _depth > limit:
        return f"… (nested deeper than {limit} levels, not shown)"
    if isinstance(value, dict):
        return {key: json_clip(item, limit, _depth + 1) for key, item in value.items()}
    return [json_clip(item, limit, _depth + 1) for item in value]


def json_render(value: Any, *, indent: int | None = 2, limit: int = JSON_MAX_DEPTH) -> str:
    """Stored JSON as text for a screen, never raising on depth."""
    return json.dumps(json_clip(value, limit), indent=indent, ensure_ascii=False, default=str)


def nul_strip(value: Any) -> tuple[Any, int]:
    """`value` with every NUL character removed from its strings (keys included), and how
    many were removed. Returns `value` itself when there was none."""
    if isinstance(value, str):
        count = value.count(NUL)
        return (value.replace(NUL, ""), count) if count else (value, 0)
    if isinstance(value, dict):
        total, out = 0, {}
        for key, item in value.items():
            clean_key, n = nul_strip(key)
            clean_item, m = nul_strip(item)
            out[clean_key] = clean_item
            total += n + m
        return (out, total) if total else (value, 0)
    if isinstance(value, list):
        total, items = 0, []
        for item in value:
            clean_item, n = nul_strip(item)
            items.append(clean_item)
            total += n
        return (items, total) if total else (value, 0)
    return value, 0


class BodyRefused(Exception):
    """A webhook body refused before or while reading it: the HTTP status and the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def webhook_body_read(request: Any, *, limit: int, required_headers: tuple[str, ...] = ()) -> bytes:
    """The raw body of a JSON webhook (signatures cover the bytes as sent), or BodyRefused:
    400 for a Content-Length that is not a number, 413 above ``limit`` (declared or read),
    401 for a missing signature header, 415 for a body that is not JSON."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BodyRefused(400, "Content-Length is not a number") from None
    if declared > limit:
        raise BodyRefused(413, f"body larger than {limit} bytes")
    missing = [name for name in required_headers if not request.headers.get(name)]
    if missing:
        raise BodyRefused(401, f"missing {' and '.join(missing)} header")
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise BodyRefused(
            415, f"Content-Type must be application/json, not {content_type or 'missing'}"
        )
    body = request.read(limit + 1)
    if len(body) > limit:
        raise BodyRefused(413, f"body larger than {limit} bytes")
    return body
