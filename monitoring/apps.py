from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Workflow figures, alert rules and their notifications, diagnostics and /metrics.

    Reads pipelines', integrations' and quality's records; writes only its own (alerts)."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from monitoring.config_sections import alerts_section_register

        alerts_section_register()
