"""SQL on a webhook's hot path: one statement each, without the ORM's per-call compilation.

A webhook answers hundreds of requests a second with the same one-row lookup (the workflow at
an address and its source connection) and one insert. Compiling that lookup's queryset costs
more CPU than PostgreSQL spends answering it (about 1 ms against 0.2 ms on a 2-core machine,
docs/operations.md, "Web server and webhook intake"), and ``Model.objects.create`` inside
``transaction.atomic`` costs a BEGIN and a COMMIT round trip around the INSERT, plus a
savepoint and a caught IntegrityError for every duplicate.

Reads: the statement is written from the models' own table and column names, and each row is
turned into model instances the way the ORM does it (the backend's converters and each
field's ``from_db_value``: secrets decrypted, JSON parsed), then ``Model.from_db`` with the
other fields deferred. Such an instance behaves like one from ``.only(...)``: a field that was
not selected loads when read, ``save()`` writes only the loaded fields.

Writes: ``row_insert_unless_taken`` is one ``INSERT … ON CONFLICT (unique column) DO NOTHING
RETURNING id`` (PostgreSQL, SQLite ≥ 3.35), each value prepared by its field as ``save()``
prepares it. Outside a transaction it commits by itself; inside one it joins it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection as default_connection
from django.db import connections, router
from django.db.models import Field, Model


@dataclass(frozen=True)
class SelectedColumns:
    """Some concrete fields of one model, in the model's own field order (what from_db wants)."""

    model: type[Model]
    fields: tuple[Field, ...]

    def sql(self, alias: str) -> str:
        quote = default_connection.ops.quote_name
        return ", ".join(f"{quote(alias)}.{quote(f.column)}" for f in self.fields)


def columns_select(model: type[Model], names: Sequence[str]) -> SelectedColumns:
    wanted = set(names)
    fields = tuple(
        f for f in model._meta.concrete_fields if f.attname in wanted or f.name in wanted
    )
    missing = wanted - {f.attname for f in fields} - {f.name for f in fields}
    if missing:
        raise ValueError(f"{model.__name__} has no column for {sorted(missing)}")
    return SelectedColumns(model=model, fields=fields)


_converters_cache: dict[tuple[str, type[Model], str], list[Callable[..., Any]]] = {}


def _converters(field: Field, db: Any) -> tuple[Any, list[Callable[..., Any]]]:
    key = (db.alias, field.model, field.attname)
    expression = field.get_col(field.model._meta.db_table)
    if key not in _converters_cache:
        _converters_cache[key] = db.ops.get_db_converters(
            expression
        ) + expression.get_db_converters(db)
    return expression, _converters_cache[key]


def instance_from_row(columns: SelectedColumns, values: Sequence[Any], *, db: Any) -> Model:
    """``values`` in ``columns.fields`` order, as the database driver returned them."""
    converted = []
    for field, value in zip(columns.fields, values, strict=True):
        expression, converters = _converters(field, db)
        for convert in converters:
            value = convert(value, expression, db)
        converted.append(value)
    return columns.model.from_db(db.alias, [f.attname for f in columns.fields], converted)


def row_insert_unless_taken(instance: Model, *, unique: str) -> bool:
    """Insert ``instance`` unless a row already holds its value of the unique field
    ``unique``: True (and ``instance.pk`` set) when inserted, False when the value was taken."""
    model = type(instance)
    db = connections[router.db_for_write(model)]
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection=db) for f in fields]
    quote = db.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 - names from the model
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote(meta.get_field(unique).column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = db.alias
    return True
