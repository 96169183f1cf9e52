"""A PostgreSQL warehouse reached by URL, written with ``INSERT ... ON CONFLICT DO UPDATE``.

Identifiers (table, columns) come from admin configuration, so they are always composed with
``psycopg.sql.Identifier`` and column types from a fixed list: never string formatting.
One connection per call: a Celery task writes one batch, and a pooled connection held across
tasks would outlive a warehouse restart. Cost: one connect (~ms on a LAN) per batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import conninfo, sql
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from integrations.errors import RequestRejected, Unreachable
from integrations.warehouse.tables import DEFAULT_SCHEMA, table_refusal

# Column types ensure_table may create; anything else is refused rather than interpolated.
COLUMN_TYPES = {
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamptz": "timestamptz",
    "jsonb": "jsonb",
}
_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def mask_dsn(text: str) -> str:
    """``postgres://user:secret@host`` → ``postgres://user:****@host``."""
    return _PASSWORD.sub(r"\1****@", text)


# libpq's parse errors quote the text they stopped at, which may be the password: name the
# part from these instead of passing libpq's message on.
_DSN_PARSE_PROBLEMS = (
    ("query parameter", "an unknown option in the query string"),
    ("percent-encoded", "a malformed %-escape in the user, password or database part"),
    ("IPv6", "the host part (an unclosed IPv6 bracket)"),
    ('missing "="', "neither a postgres:// URL nor key=value pairs"),
)


def dsn_problem(url: str) -> str | None:
    """What is wrong with a warehouse DSN, naming the part and never quoting the secret."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        text = str(exc)
        for needle, part in _DSN_PARSE_PROBLEMS:
            if needle in text:
                return part
        return "libpq cannot parse it"
    port = str(parts.get("port") or "5432")
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
        return "the port is not a number between 1 and 65535"
    return None


class WarehouseClient:
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = 5,
        application_name: str = "switchyard",
        allowed_schemas: tuple[str, ...] = (DEFAULT_SCHEMA,),
        table_prefixes: tuple[str, ...] = (),
    ) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._application_name = application_name
        self._schemas = tuple(allowed_schemas)
        self._prefixes = tuple(table_prefixes)

    def _table(self, name: str) -> sql.Identifier:
        """``"schema.table"`` or ``"table"`` (in ``public``), each part quoted separately; a
        name outside the allow-list is refused before any SQL is sent."""
        reason = table_refusal(name, schemas=self._schemas, prefixes=self._prefixes)
        if reason is not None:
            raise RequestRejected(f"warehouse table refused: {reason}", permanent=True)
        parts = name.split(".")
        return sql.Identifier(*(parts if len(parts) == 2 else [DEFAULT_SCHEMA, parts[0]]))

    def __repr__(self) -> str:
        return f"WarehouseClient({mask_dsn(self._url)!r})"

    def _connect(self) -> psycopg.Connection:
        problem = dsn_problem(self._url)
        if problem is not None:
            raise RequestRejected(f"invalid DSN: {problem}", permanent=True, category="invalid_dsn")
        try:
            return psycopg.connect(
                self._url,
                connect_timeout=self._connect_timeout,
                application_name=self._application_name,
            )
        except psycopg.OperationalError as exc:
            # libpq messages name host and user, never the password; mask anyway.
            raise Unreachable(
                f"warehouse unreachable: {mask_dsn(str(exc).strip())[:300]}"
            ) from None

    def ping(self) -> bool:
        with self._connect() as conn:
            conn.execute("SELECT 1")
        return True

    def ensure_table(self, table: str, columns: dict[str, str], key: str) -> None:
        """``CREATE TABLE IF NOT EXISTS`` with ``key`` as primary key. Existing tables are left
        as they are (no migrations here)."""
        if key not in columns:
            raise ValueError("the key must be one of the columns")
        unknown = {t for t in columns.values() if t.lower() not in COLUMN_TYPES}
        if unknown:
            raise ValueError(f"unsupported column types: {sorted(unknown)}")
        definitions = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(COLUMN_TYPES[kind.lower()]))
            for name, kind in columns.items()
        )
        statement = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))").format(
            self._table(table), definitions, sql.Identifier(key)
        )
        self._run([(statement, None)])

    def upsert(self, table: str, rows: list[dict[str, Any]], key: str) -> int:
        """Insert or update ``rows`` matched on ``key`` (which needs a unique constraint).
        Every row must carry the same columns: a missing column would silently null a value.
        Returns the number of rows written."""
        if not rows:
            return 0
        columns = list(rows[0])
        if key not in columns:
            raise ValueError(f"rows must contain the key column {key!r}")
        if any(list(row) != columns and set(row) != set(columns) for row in rows):
            raise ValueError("every row must have the same columns")
        updates = [c for c in columns if c != key]
        action = (
            sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in updates
                )
            )
            if updates
            else sql.SQL("DO NOTHING")
        )
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {}").format(
            self._table(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.Identifier(key),
            action,
        )
        values = [tuple(_adapt(row[c]) for c in columns) for row in rows]
        self._run([(statement, values)], many=True)
        return len(rows)

    # -- privacy: find and delete one person's rows ----------------------------------------

    def _match(self, table: str, column: str, json_key: str | None) -> sql.Composed:
        """``WHERE lower(<column>) = %s`` (or ``lower(<column> ->> <json_key>)``). A whole-table
        scan unless the column is the key; erasures are rare, so the cost is accepted."""
        target = sql.Identifier(column)
        if json_key:
            target = sql.SQL("{} ->> {}").format(target, sql.Literal(json_key))
        return sql.SQL("FROM {} WHERE lower(({})::text) = %s").format(self._table(table), target)

    def rows_matching(
        self, table: str, *, column: str, value: str, json_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row whose ``column`` (or its JSON ``json_key``) equals ``value``, case-insensitively.
        A table that does not exist yet (nothing was loaded) holds no rows."""
        statement = sql.SQL("SELECT * ") + self._match(table, column, json_key)
        return self._fetch(statement, [value.lower()])

    def rows_delete(
        self, table: str, *, column: str, value: str, json_key: str | None = None
    ) -> int:
        """Delete the rows ``rows_matching`` finds; returns how many were deleted."""
        statement = (
            sql.SQL("DELETE ") + self._match(table, column, json_key) + sql.SQL(" RETURNING 1")
        )
        return len(self._fetch(statement, [value.lower()]))

    def _fetch(self, statement: sql.Composable, params: list[Any]) -> list[dict[str, Any]]:
        with self._connect() as conn:
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.execute(statement, params)
                    names = [c.name for c in cursor.description or []]
                    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except pg_errors.UndefinedTable:
                return []
            except psycopg.OperationalError as exc:
                raise Unreachable(f"warehouse connection lost: {type(exc).__name__}") from None
            except psycopg.Error as exc:
                state = getattr(exc, "sqlstate", None)
                raise RequestRejected(
                    f"warehouse rejected the statement: {type(exc).__name__} ({state})",
                    category=state,
                ) from None

    def _run(self, statements: Iterable[tuple[sql.Composable, Any]], *, many: bool = False) -> None:
        with self._connect() as conn:
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    for statement, params in statements:
                        if many:
                            cursor.executemany(statement, params)
                        else:
                            cursor.execute(statement, params)
            except psycopg.OperationalError as exc:
                raise Unreachable(f"warehouse connection lost: {type(exc).__name__}") from None
            except psycopg.Error as exc:
                # SQLSTATE and class only: the server's message can quote row values (PII).
                state = getattr(exc, "sqlstate", None)
                raise RequestRejected(
                    f"warehouse rejected the statement: {type(exc).__name__} ({state})",
                    category=state,
                ) from None


def _adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value
