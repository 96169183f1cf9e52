"""`manage.py executions list|resume|cancel` (docs/events.md, "Chains")."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from events.executions.engine import ExecutionRefused, execution_cancel, execution_resume
from events.models import Execution, ExecutionState
from events.selectors import executions_list


class Command(BaseCommand):
    help = "Multi-step executions: list, resume from the failed step, cancel."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("--state", default="", choices=["", *ExecutionState.values])
        listing.add_argument("--json", action="store_true")
        resume = sub.add_parser("resume", help="Resume at the failed step; done steps are kept.")
        resume.add_argument("id", type=int)
        cancel = sub.add_parser("cancel")
        cancel.add_argument("id", type=int)
        cancel.add_argument("--reason", required=True)

    def handle(self, *args, **options) -> None:
        action = options["action"]
        try:
            if action == "list":
                self._list(options)
            elif action == "resume":
                execution = execution_resume(
                    execution_id=options["id"], actor="command:executions resume"
                )
                self.stdout.write(f"execution {execution.pk} resumed")
            else:
                execution_cancel(
                    execution_id=options["id"],
                    reason=options["reason"],
                    actor="command:executions cancel",
                )
                self.stdout.write(f"execution {options['id']} cancelled")
        except Execution.DoesNotExist:
            raise CommandError(f"no execution {options.get('id')}") from None
        except ExecutionRefused as refused:
            raise CommandError(str(refused)) from None

    def _list(self, options: dict) -> None:
        rows = []
        for execution in executions_list(state=options["state"]).prefetch_related("steps"):
            failed = next((s for s in execution.steps.all() if s.state == "failed"), None)
            rows.append(
                {
                    "id": execution.pk,
                    "workflow": execution.definition.name,
                    "version": execution.definition.version,
                    "state": execution.state,
                    "failed_step": failed.name if failed else None,
                    "error": failed.error if failed else "",
                    "created_at": execution.created_at.isoformat(),
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            self.stdout.write(
                f"{row['id']:>6}  {row['workflow']} v{row['version']}  {row['state']:<10} "
                f"{row['failed_step'] or ''} {row['error']}"
            )
