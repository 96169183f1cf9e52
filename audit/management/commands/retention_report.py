"""`manage.py retention_report`: what the retention purge would delete now (a dry run)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from audit.retention import retention_report


class Command(BaseCommand):
    help = "Dry run of the retention purge: rows per kind of data that are past their retention period."

    def handle(self, *args, **options):
        rows = retention_report()
        self.stdout.write(
            f"{'kind':<24} {'keep (days)':>11}  {'cutoff (UTC)':<20} {'would delete':>12}"
        )
        for row in rows:
            cutoff = f"{row['cutoff']:%Y-%m-%d %H:%M}" if row["cutoff"] else "not configured"
            count = row["would_delete"] if row["would_delete"] >= 0 else "error (see log)"
            self.stdout.write(
                f"{row['kind']:<24} {row['days'] or '-':>11}  {cutoff:<20} {count:>12}"
            )
        self.stdout.write(
            "Nothing was deleted (dry run). The daily 'Retention purge' schedule deletes them."
        )
