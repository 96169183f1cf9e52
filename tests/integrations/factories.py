import factory

from integrations.models import AuthType, Connection, Provider


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"hubspot-{n}")
    provider = Provider.HUBSPOT
    auth_type = AuthType.PRIVATE_APP
    base_url = "http://127.0.0.1:9"
    token = "pat-na1-00000000-test-token-0000"
    secret_hints = factory.LazyAttribute(lambda c: {"token": c.token[-4:]} if c.token else {})
    max_attempts = 2
