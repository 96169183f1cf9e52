from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Connections"

    def ready(self) -> None:
        import config.checks  # noqa: F401 - registers the deploy check of development keys
        from integrations.privacy import privacy_register

        # HubSpot's GDPR delete joins every erasure (audit.privacy); see integrations/privacy.py.
        privacy_register()
