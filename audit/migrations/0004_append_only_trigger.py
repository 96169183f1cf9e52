"""PostgreSQL: a trigger makes audit_auditevent append-only, for raw SQL too.

UPDATE is always refused. DELETE is refused unless the retention purge set
`SET LOCAL switchyard.audit_purge = 'on'` in its own transaction, and even then only for rows
older than the 365-day floor (730 days for privacy-request events). SQLite, the local demo
database, has no session settings to let the purge through, so there the ORM guards alone
apply (AuditEvent.save/delete and its QuerySet).
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('switchyard.audit_purge', true), '') = 'on'
       AND OLD.created_at < now() - interval '365 days'
       AND (OLD.action NOT LIKE 'privacy.%' OR OLD.created_at < now() - interval '730 days') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % of event % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_append_only();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A cursor without parameters: the function body's % signs are not placeholders.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_privacy_and_append_only")]
    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
