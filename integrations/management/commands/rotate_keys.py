from django.core.management.base import BaseCommand

from integrations.services import connections_rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the first key in FIELD_ENCRYPTION_KEYS. "
        "Safe to interrupt and rerun; drop old keys only after it reports nothing left."
    )

    def handle(self, *args, **options):
        report = connections_rotate_keys()
        self.stdout.write(
            f"Rotated {report.rotated} connection(s); {report.already_current} already used the newest key."
        )
