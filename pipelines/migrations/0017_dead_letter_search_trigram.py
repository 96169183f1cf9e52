"""PostgreSQL: trigram indexes for the dead-letter search (docs/pipelines.md#list-and-detail-pages-at-scale).

The queue's search finds part of an email or words of an error anywhere in a letter's
identity, reason or errors: `icontains`, which Django writes as `UPPER(col::text) LIKE
UPPER('%term%')`. No B-tree serves a leading `%`, so on 100,000 letters each search read the
whole table, once for the list and again for the groups. pg_trgm's GIN operator class
indexes every three-character piece of a value and answers LIKE on any substring of it; one
index per searched column, on the same `UPPER(...)` expression the query compares, and the
planner ORs them. PostgreSQL rechecks every candidate row, so the results are exactly those
of the scan.

pg_trgm ships with PostgreSQL (contrib) and is a trusted extension since PostgreSQL 13: the
database's owner may create it. SQLite, the local demo database, gets none of this and scans.
"""

from django.db import migrations

INDEXES = {
    "pipelines_dl_identity_trgm": 'UPPER("identity"::text)',
    "pipelines_dl_reason_trgm": 'UPPER("reason"::text)',
    "pipelines_dl_errors_trgm": 'UPPER("errors"::text)',
}

CREATE = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
    f"CREATE INDEX IF NOT EXISTS {name} ON pipelines_deadletter USING gin ({expr} gin_trgm_ops)"
    for name, expr in INDEXES.items()
]
# The extension stays: other tables of the database may use it.
DROP = [f"DROP INDEX IF EXISTS {name}" for name in INDEXES]


def _on_postgres(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("pipelines", "0016_merge_0011_named_sweepers_0015_merge_branches_3")]
    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
