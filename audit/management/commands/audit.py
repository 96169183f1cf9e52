"""`manage.py audit verify`: check the hash chain; `manage.py audit head`: print the chain head.

verify exits 1 and names the first broken event when a row was altered, deleted or reordered
behind the application's back (raw SQL, a restored backup, a DBA). Record the head printed by
`audit head` somewhere outside the database (a ticket, a WORM bucket) to anchor the chain:
someone able to rewrite every row could otherwise recompute all the hashes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.chain import anchor_check, anchor_count, chain_verify
from audit.models import AuditEvent


class Command(BaseCommand):
    help = "Audit log tools: `verify` checks the tamper-evident hash chain; `head` prints its latest link."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser(
            "verify", help="Walk the chain in id order; exit 1 at the first broken event."
        )
        verify.add_argument(
            "--head", help="an anchor printed earlier by `audit head`: it must still be there"
        )
        verify.add_argument(
            "--count", type=int, help="with --head: the events written up to it, as printed"
        )
        sub.add_parser(
            "head", help="Print the id and hash of the latest event (to anchor elsewhere)."
        )

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "head":
            head = AuditEvent.objects.order_by("-id").values("id", "created_at", "hash").first()
            if head is None:
                self.stdout.write("The audit log is empty.")
            else:
                count = anchor_count(head_id=head["id"])
                self.stdout.write(
                    f"event {head['id']} at {head['created_at'].isoformat()} hash {head['hash']} "
                    f"count {count}"
                )
                self.stdout.write(
                    f"verify later with: audit verify --head {head['hash']} --count {count}"
                )
            return
        result = chain_verify()
        if result.ok and options.get("head"):
            problem = anchor_check(head_hash=options["head"], count=options.get("count"))
            if problem is not None:
                raise CommandError(f"Audit log truncated: {problem}.", returncode=1)
        if not result.ok:
            raise CommandError(
                f"Audit chain broken at event {result.broken_id}: {result.reason}. "
                f"{result.checked} events before it verified.",
                returncode=1,
            )
        if result.head_id is None:
            self.stdout.write(self.style.SUCCESS("The audit log is empty; nothing to verify."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"OK: {result.checked} events verified; head is event {result.head_id} hash {result.head_hash}"
                )
            )
