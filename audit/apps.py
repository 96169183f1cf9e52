from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and access"

    def ready(self) -> None:
        from audit import retention  # noqa: F401 - registers the audit's own retention kinds
        from audit.receivers import receivers_connect
        from audit.roles import roles_sync_after_migrate

        # Permissions of apps migrated after the roles' data migration exist only once their
        # own migrations ran; re-syncing after every migrate keeps the roles complete.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="audit.roles_sync")
        receivers_connect()
