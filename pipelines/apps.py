from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self) -> None:
        from pipelines.configuration import Section, section_register
        from pipelines.configuration.workflows import (
            workflows_apply,
            workflows_export,
            workflows_validate,
        )
        from pipelines.privacy import privacy_register

        section_register(
            Section("workflows", workflows_validate, workflows_apply, workflows_export)
        )
        # Until audit.privacy exists this registers nothing (see pipelines/privacy.py).
        privacy_register()
        from pipelines.routing import config_sections, tasks  # noqa: F401 - routing's config sections and task
