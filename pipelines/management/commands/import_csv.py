"""`manage.py import_csv FILE --workflow SLUG [--dry-run] [--wait | --inline] [--json]`.

``--wait`` hands the run to the Celery workers, as an upload through the browser does, and
waits for them with a progress bar on stderr (rows staged, batches loaded, ETA). ``--inline``
runs it in this process instead, with the same concurrent loader; ``--wait`` does that too,
saying so, when no worker answers a ping. Either way stdout gets the same summary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pipelines.csv_files import CsvRefused, csv_file_check
from pipelines.models import RunStatus
from pipelines.selectors import run_progress, run_rows_staged, run_summary, workflow_by_slug
from pipelines.services.preview import run_preview_csv
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv


class Command(BaseCommand):
    help = (
        "Import a CSV file through a workflow: the workers run it (--wait waits for them with a "
        "progress bar), or this process does (--inline)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workflow", required=True, help="workflow slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="preview counts and errors, write nothing"
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait for the workers, with progress on stderr"
        )
        parser.add_argument(
            "--inline", action="store_true", help="run the import in this process, no worker"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        workflow = workflow_by_slug(slug=options["workflow"])
        if workflow is None:
            raise CommandError(f"no workflow {options['workflow']!r}")
        inline = options["inline"]
        if options["wait"] and not inline and not workers_answering():
            self.stderr.write(
                "No Celery worker answered: running the import in this process. Start workers "
                "as docs/operations.md says to run imports in the background."
            )
            inline = True
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
                    dispatch=not inline,
                )
            except CsvRefused as refused:
                raise CommandError(
                    f"{path.name}: {refused.message} Nothing was imported."
                ) from None
        if inline:
            # The same services the tasks call, and the same concurrent loader, in this process.
            run = run_execute_inline(run_id=run.pk)
        elif options["wait"]:
            run_wait(run_id=run.pk)
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


def workers_answering(*, timeout: float = 1.5) -> int:
    """Whether a Celery worker answers a ping: 1 as soon as one does, 0 when none does within
    ``timeout`` or the broker cannot broadcast. (Counting every worker meant waiting out the
    whole timeout on every `import_csv --wait`.)"""
    from config.celery import app

    try:
        return len(app.control.ping(timeout=timeout, limit=1) or [])
    except Exception:  # noqa: BLE001 - any broker trouble means: do not count on a worker
        return 0


def run_wait(*, run_id: int, out: Any = None, poll: float = 0.25) -> None:
    """Wait for the workers to finish the run: a staging bar (rows), then a loading bar
    (batches), each with its rate and ETA (tqdm)."""
    from tqdm import tqdm

    out = out or sys.stderr
    bars: dict[str, tqdm] = {}
    told_stalled = False

    def show(phase: str, done: int, total: int, unit: str) -> None:
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[phase] = tqdm(total=total, desc=phase, unit=unit, file=out, leave=True)
        bar.total = max(total, done)
        bar.update(done - bar.n)

    try:
        while True:
            progress = run_progress(run_id=run_id)
            if progress["finished"]:
                if "loading" in bars:
                    show("loading", progress["batches_total"], progress["batches_total"], "batch")
                return
            if progress["batches_total"]:
                show("loading", progress["batches_done"], progress["batches_total"], "batch")
            else:
                rows = run_rows_staged(run_id=run_id)
                if rows[1]:
                    show("staging", rows[0], rows[1], "row")
            if progress["stalled"] and not told_stalled:
                out.write(f"\nstalled: {progress['stall_reason']}\n")
            told_stalled = progress["stalled"]
            time.sleep(poll)
    finally:
        for bar in bars.values():
            bar.close()
