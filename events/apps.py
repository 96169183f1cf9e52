from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event hub"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import config_sections, receivers  # noqa: F401 - registers section, signals
