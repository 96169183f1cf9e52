from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from quality.privacy import privacy_register

        privacy_register()
