"""Which warehouse tables a workflow may write: an allow-listed schema and table-name prefix.

A RevOps admin types the table name. The warehouse credential usually reaches far more than
Switchyard's tables (a shared analytics database), so a free-form name would let the admin
upsert into, read from or delete from any of them (privacy erasure deletes rows). Names are
therefore plain identifiers (letters, digits, underscores) in an allowed schema
(``WAREHOUSE_ALLOWED_SCHEMAS``, default ``public``) starting with an allowed prefix
(``WAREHOUSE_TABLE_PREFIXES``, default ``sy_``), and are always sent quoted
(``psycopg.sql.Identifier``). Checked at save, at `config apply`, and by the client at use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DEFAULT_SCHEMA = "public"


def table_refusal(name: str, *, schemas: Sequence[str], prefixes: Sequence[str]) -> str | None:
    """Why `name` may not be used as a warehouse table, or None when it may."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        return "a table is 'table' or 'schema.table' made of letters, digits and underscores"
    schema, table = (DEFAULT_SCHEMA, parts[0]) if len(parts) == 1 else parts
    if schema not in schemas:
        return f"schema {schema!r} is not allowed (allowed: {', '.join(schemas) or 'none'})"
    if prefixes and not any(table.startswith(prefix) for prefix in prefixes):
        return f"the table name must start with {' or '.join(repr(p) for p in prefixes)}"
    return None


def warehouse_table_validate(name: str) -> None:
    """Django validator (model field, forms) applying the settings' allow-list."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    if not name:
        return
    reason = table_refusal(
        name, schemas=settings.WAREHOUSE_ALLOWED_SCHEMAS, prefixes=settings.WAREHOUSE_TABLE_PREFIXES
    )
    if reason is not None:
        raise ValidationError(f"{name[:80]!r}: {reason}")
