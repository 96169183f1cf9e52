from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self) -> None:
        from pipelines.configuration.sections import sections_register
        from pipelines.privacy import privacy_register

        sections_register()
        # Until audit.privacy exists this registers nothing (see pipelines/privacy.py).
        privacy_register()
        # Register every task name pipelines.enqueue sends, in web processes too.
        from pipelines import tasks  # noqa: F401
        from pipelines.routing import tasks as routing_tasks  # noqa: F401
