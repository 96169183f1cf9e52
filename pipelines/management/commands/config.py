"""`manage.py config export` prints the configuration as YAML; `config apply FILE` applies it."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integrations.config_schema import ConfigError
from pipelines.configuration import config_apply, config_export


class Command(BaseCommand):
    help = "Export the configuration as YAML, or apply a YAML file idempotently."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "export", help="print every connection (without secrets), workflow, rule... as YAML"
        )
        apply = sub.add_parser(
            "apply", help="create or update what FILE describes; twice changes nothing"
        )
        apply.add_argument("file", help="YAML file, or - for standard input")
        apply.add_argument(
            "--dry-run", action="store_true", help="validate and report, write nothing"
        )

    def handle(self, *args, **options):
        if options["action"] == "export":
            self.stdout.write(config_export(), ending="")
            return
        path = options["file"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            changes = config_apply(text=text, dry_run=options["dry_run"])
        except ConfigError as exc:
            raise CommandError(f"{path}: {exc} (nothing was changed)") from None
        if not changes:
            self.stdout.write("Nothing to change.")
        for change in changes:
            self.stdout.write(("would apply: " if options["dry_run"] else "applied: ") + change)
