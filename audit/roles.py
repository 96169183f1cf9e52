"""The three roles, as Django groups, defined once here.

Least privilege: a role is a list of permission patterns (`app_label.codename`, shell-style
wildcards). `roles_sync` turns them into group permissions; it is idempotent and runs from the
data migration and after every `migrate`, so permissions of models added later join their roles.
The superuser exists for setup only; day-to-day work happens in these roles.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

REVOPS_ADMIN = "RevOps admin"
INTEGRATION_ENGINEER = "Integration engineer"
VIEWER = "Viewer"

_READ_ALL = [
    "pipelines.view_*",
    "enrichment.view_*",  # company enrichment runs, rules, cache figures
    "events.view_*",
    "quality.view_*",
    "monitoring.view_*",
    "integrations.view_connection",
    "integrations.view_requestlog",
    "django_celery_beat.view_*",
    # Auditors work in the Viewer role: the log holds masked values only, so reading and
    # exporting it is not an export of personal data.
    "audit.view_auditevent",
    "audit.export_auditevent",
]

_REVOPS = [
    *_READ_ALL,
    # Mappings, workflows, territory rules, imports, dead-letter review and reprocessing.
    "pipelines.add_*",
    "pipelines.change_*",
    "pipelines.delete_*",
    "pipelines.reprocess_*",
    "pipelines.import_*",
    "enrichment.add_*",  # enrichment rules versions, "Run now"
    "enrichment.change_*",
    # Event hub: subscriptions, dead-lettered deliveries, chain executions.
    "events.add_*",
    "events.change_*",
    "events.delete_*",
    "quality.add_*",
    "quality.change_*",
    "quality.delete_*",
    # Alert rules, acknowledging and silencing alerts.
    "monitoring.add_alertrule",
    "monitoring.change_alertrule",
    "monitoring.delete_alertrule",
    "monitoring.acknowledge_alert",
    # Privacy requests: erase a person, export what we hold about them, see past requests.
    "audit.export_personal_data",
    "audit.perform_privacy_request",
    "audit.view_privacyrequest",
    "audit.view_suppressedemail",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [*_READ_ALL],
    REVOPS_ADMIN: _REVOPS,
    INTEGRATION_ENGINEER: [
        *_REVOPS,
        # Connections and their credentials; schedules.
        "integrations.*",
        "django_celery_beat.*",
    ],
}


def permissions_for(role: str, available: list[str]) -> list[str]:
    """The `app_label.codename` strings of `available` that the role's patterns grant."""
    patterns = ROLE_PERMISSIONS[role]
    return [perm for perm in available if any(fnmatchcase(perm, pattern) for pattern in patterns)]


def roles_sync(*, apps=None) -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role in ROLE_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [by_name[name] for name in permissions_for(role, sorted(by_name))]
        group.permissions.set(wanted)


def roles_sync_after_migrate(sender, using="default", **kwargs) -> None:
    # Runs once per app after its permissions were created; cheap (a few queries), and it
    # means the roles are complete however many apps a migrate or a test flush touched.
    roles_sync()
