from django.apps import AppConfig


class EnrichmentConfig(AppConfig):
    name = "enrichment"
    verbose_name = "Company enrichment"

    def ready(self) -> None:
        from enrichment import hooks

        hooks.hooks_register()
