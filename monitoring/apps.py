from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Workflow figures, alert rules and their notifications, diagnostics and /metrics.

    Reads pipelines', integrations' and quality's records; writes only its own (alerts). Its
    `alerts:` config section registers with the others in pipelines/configuration/sections.py."""

    name = "monitoring"
    verbose_name = "Monitoring"
