from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event hub"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The tasks the hub wakes by name (events.wakeups) must be registered in every process
        # that sends them, the web process included, not only in workers that autodiscover them.
        from events import (  # noqa: F401 - registers section, signals
            config_sections,
            receivers,
            tasks,  # noqa: F401
        )
        from events.dead_letters import letter_kind_delivery_register
        from events.executions import tasks as execution_tasks  # noqa: F401

        # A dead delivery's letter is edited and redelivered from the dead-letter queue.
        letter_kind_delivery_register()
