from django.core.management.base import BaseCommand, CommandError

from integrations.connection_checks import connection_test
from integrations.models import Connection


class Command(BaseCommand):
    help = "Make one cheap authenticated call through a connection and print the verdict."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the connection's name")

    def handle(self, *args, name: str, **options):
        connection = Connection.objects.filter(name=name).first()
        if connection is None:
            raise CommandError(f"no connection named {name!r}")
        verdict = connection_test(
            connection_id=connection.pk, actor_label="command:test_connection"
        )
        if not verdict.ok:
            raise CommandError(f"{name}: {verdict.message}")
        self.stdout.write(f"{name}: {verdict.message}")
