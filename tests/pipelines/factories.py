import factory

from integrations.models import AuthType, Provider
from pipelines.models import FieldMappingVersion, Workflow
from pipelines.samples import CLAY_CONTACTS_MAPPING
from tests.integrations.factories import ConnectionFactory

CLAY_SECRET = "clay-shared-secret-0123456789abcdef"

# The mapping of docs/samples/clay-contacts.csv (docs/pipelines.md).
CLAY_RULES = CLAY_CONTACTS_MAPPING


class HubSpotConnectionFactory(ConnectionFactory):
    name = factory.Sequence(lambda n: f"hubspot-main-{n}")
    base_url = "http://hubspot-sandbox.test"
    # One attempt per call: retries are the batch task's job here, and tests must not sleep.
    max_attempts = 1
    # High enough that the in-process limiter never waits during a test.
    rate_limit_requests = 100_000
    rate_limit_seconds = 10


class ClayConnectionFactory(ConnectionFactory):
    name = factory.Sequence(lambda n: f"clay-inbound-{n}")
    provider = Provider.CLAY
    auth_type = AuthType.HEADER_TOKEN
    base_url = ""
    token = CLAY_SECRET


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True  # the hook writes a mapping version, not the workflow

    slug = factory.Sequence(lambda n: f"clay-to-hubspot-{n}")
    source_connection = factory.SubFactory(ClayConnectionFactory)
    destination_connection = factory.SubFactory(HubSpotConnectionFactory)

    @factory.post_generation
    def rules(self, create, extracted, **kwargs):
        if create:
            FieldMappingVersion.objects.create(
                workflow=self, version=1, rules=extracted or CLAY_RULES
            )
