"""`manage.py import_csv FILE --workflow SLUG [--dry-run] [--wait] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pipelines.csv_files import CsvRefused, csv_file_check
from pipelines.models import RunStatus
from pipelines.selectors import run_summary, workflow_by_slug
from pipelines.services.preview import run_preview_csv
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv


class Command(BaseCommand):
    help = "Import a CSV file through a workflow (Celery runs it; --wait runs it here and waits)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workflow", required=True, help="workflow slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="preview counts and errors, write nothing"
        )
        parser.add_argument(
            "--wait", action="store_true", help="run the batches in this process and wait"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        workflow = workflow_by_slug(slug=options["workflow"])
        if workflow is None:
            raise CommandError(f"no workflow {options['workflow']!r}")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        with path.open("rb") as handle:
            try:
                # The whole file is read once before anything is created: a character that
                # cannot be decoded on row 900,000 is refused here, not by a run later.
                csv_file_check(binary=handle)
                handle.seek(0)
                if options["dry_run"]:
                    preview = run_preview_csv(workflow=workflow, file=handle)
                    self._print_preview(preview, as_json=options["json"])
                    return
                run = run_create_csv(
                    workflow=workflow,
                    file=handle,
                    filename=path.name,
                    actor_label="command:import_csv",
                    dispatch=not options["wait"],
                )
            except CsvRefused as refused:
                raise CommandError(
                    f"{path.name}: {refused.message} Nothing was imported."
                ) from None
        if options["wait"]:
            # Without a worker: the same services the tasks call, in this process.
            run = run_execute_inline(run_id=run.pk)
        run.refresh_from_db()
        summary = run_summary(run=run)
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Run {run.pk}: {run.status}. {run.records_in} in, {run.succeeded} succeeded, "
                f"{run.dead_lettered} dead-lettered ({run.failed} rejected by HubSpot), "
                f"{run.skipped} skipped."
            )
        if run.status == RunStatus.FAILURE:
            # Non-zero, with the reason on stderr: a script must not read a failed run as done.
            reason = run.status_message or (
                f"all {run.dead_lettered} records were dead-lettered ({run.failed} rejected by "
                "HubSpot); see the run's dead letters"
            )
            raise CommandError(f"run {run.pk} failed: {reason}")

    def _print_preview(self, preview, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(preview.as_dict(), default=str))
            return
        self.stdout.write(
            f"Encoding {preview.encoding}, delimiter {preview.delimiter!r}, {preview.records_in} rows."
        )
        for warning in preview.warnings:
            self.stdout.write(f"warning: {warning}")
        self.stdout.write(
            f"Would create {preview.would_create}, update {preview.would_update}; unchanged {preview.unchanged}, "
            f"invalid {preview.invalid}, duplicate in file {preview.duplicate_in_file}."
        )
        for error in preview.errors[:50]:
            self.stdout.write(f"  row {error['row']}: {'; '.join(error['messages'])}")
