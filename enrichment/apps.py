from django.apps import AppConfig


class EnrichmentConfig(AppConfig):
    name = "enrichment"
    verbose_name = "Company enrichment"

    def ready(self) -> None:
        from enrichment import (
            hooks,
            tasks,  # noqa: F401 - "enrichment.run" is sent by name
        )

        hooks.hooks_register()
