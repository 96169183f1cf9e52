"""`manage.py events emit|deliveries|redeliver` (docs/events.md, "Command line")."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events.intake import EventRejected
from events.models import DeliveryState
from events.redelivery import dead_letters_redeliver
from events.selectors import deliveries_list
from events.services import events_emit


class Command(BaseCommand):
    help = "Event hub: emit events from a file, list deliveries, redeliver dead letters."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        emit = sub.add_parser("emit", help="Take events in the source's own format from a file.")
        emit.add_argument("file")
        emit.add_argument("--source", required=True, help="The source connection's name.")
        emit.add_argument("--json", action="store_true")
        listing = sub.add_parser("deliveries", help="List deliveries.")
        listing.add_argument("--event", default="", help="Event id or uid.")
        listing.add_argument("--state", default="", choices=["", *DeliveryState.values])
        listing.add_argument("--subscriber", default="")
        listing.add_argument("--json", action="store_true")
        again = sub.add_parser("redeliver", help="Redeliver dead letters.")
        again.add_argument("--dead-letters", action="store_true", required=True)
        again.add_argument("--subscriber", default="")

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _emit(self, options: dict) -> None:
        path = Path(options["file"])
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        except ValueError as error:
            raise CommandError(f"{path} is not JSON: {error}") from None
        try:
            result = events_emit(source=options["source"], payload=payload)
        except (LookupError, EventRejected) as error:
            raise CommandError(str(error)) from None
        summary = {"events": result.events, "deliveries": result.deliveries}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"{result.events} event(s) stored ({result.duplicates} already seen), "
            f"{result.deliveries} deliveries queued"
        )

    def _deliveries(self, options: dict) -> None:
        rows = [
            {
                "event_id": str(d.event.uid),
                "subscriber": d.subscriber.name,
                "subscription": d.subscriber.subscription.name,
                "state": d.state,
                "attempts": d.attempts,
                "last_error": d.last_error or d.skip_reason,
            }
            for d in deliveries_list(
                event_uid=options["event"], state=options["state"], subscriber=options["subscriber"]
            )
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            self.stdout.write(
                f"{row['event_id']}  {row['subscriber']:<20} {row['state']:<10} "
                f"{row['attempts']}  {row['last_error']}"
            )

    def _redeliver(self, options: dict) -> None:
        count = dead_letters_redeliver(
            subscriber_name=options["subscriber"], actor="command:events redeliver"
        )
        self.stdout.write(f"{count} dead letter(s) put back for delivery")
