"""The PostgreSQL warehouse client against a real server (DATABASE_URL)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from psycopg import sql

from integrations.errors import RequestRejected, Unreachable
from integrations.warehouse import WarehouseClient
from integrations.warehouse.client import mask_dsn

# The warehouse is another database on the same server: the maintenance database `postgres`,
# which always exists (the application database may not, outside CI).
_APP_URL = os.environ.get("DATABASE_URL", "")
DATABASE_URL = _APP_URL.rsplit("/", 1)[0] + "/postgres" if _APP_URL.startswith("postgres") else None
needs_postgres = pytest.mark.skipif(
    not DATABASE_URL,
    reason="needs PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
)


@pytest.fixture
def table():
    # Not the Django test database: a throwaway table, dropped afterwards.
    name = f"sy_wh_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def rows_of(table: str) -> list[tuple]:
    with psycopg.connect(DATABASE_URL) as conn:
        query = sql.SQL('SELECT email, "first name", score, extra FROM {} ORDER BY email').format(
            sql.Identifier(table)
        )
        return conn.execute(query).fetchall()


@pytest.mark.postgres
@needs_postgres
def test_upsert_inserts_then_updates_on_the_key(table):
    warehouse = WarehouseClient(DATABASE_URL)
    assert warehouse.ping()
    # A column name with a space and a quote-ish character proves identifiers are quoted.
    warehouse.ensure_table(
        table,
        {"email": "text", "first name": "text", "score": "integer", "extra": "jsonb"},
        "email",
    )
    warehouse.ensure_table(
        table,
        {"email": "text", "first name": "text", "score": "integer", "extra": "jsonb"},
        "email",
    )
    written = warehouse.upsert(
        table,
        [
            {"email": "a@x.com", "first name": "Ann", "score": 1, "extra": {"src": "csv"}},
            {"email": "b@x.com", "first name": "Bob", "score": 2, "extra": None},
        ],
        key="email",
    )
    assert written == 2
    warehouse.upsert(
        table, [{"email": "a@x.com", "first name": "Anne", "score": 5, "extra": ["x"]}], key="email"
    )
    assert rows_of(table) == [("a@x.com", "Anne", 5, ["x"]), ("b@x.com", "Bob", 2, None)]


@pytest.mark.postgres
@needs_postgres
def test_bad_statements_are_rejected_without_values_in_the_message(table):
    warehouse = WarehouseClient(DATABASE_URL)
    warehouse.ensure_table(table, {"email": "text", "score": "integer"}, "email")
    with pytest.raises(RequestRejected) as raised:
        warehouse.upsert(table, [{"email": "secret@x.com", "score": "not-a-number"}], key="email")
    assert "secret@x.com" not in str(raised.value)
    assert "not-a-number" not in str(raised.value)
    assert raised.value.category == "22P02"


def test_identifiers_and_types_are_validated_before_any_connection():
    warehouse = WarehouseClient("postgres://u:pw@127.0.0.1:1/db")
    with pytest.raises(ValueError, match="types"):
        warehouse.ensure_table("t", {"id": "text); DROP TABLE x; --"}, "id")
    with pytest.raises(ValueError, match="key"):
        warehouse.upsert("t", [{"a": 1}], key="id")
    with pytest.raises(ValueError, match="same columns"):
        warehouse.upsert("t", [{"id": 1, "a": 1}, {"id": 2}], key="id")
    with pytest.raises(RequestRejected, match="schema.table"):
        warehouse.upsert("a.b.c", [{"id": 1}], key="id")
    assert warehouse.upsert("t", [], key="id") == 0


def test_unreachable_warehouse_hides_the_password():
    warehouse = WarehouseClient("postgresql://user:hunter2@127.0.0.1:1/db", connect_timeout=1)
    with pytest.raises(Unreachable) as raised:
        warehouse.ping()
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in repr(warehouse)
    assert mask_dsn("postgres://u:p%40ss@h/db") == "postgres://u:****@h/db"
