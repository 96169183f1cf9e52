import factory

from integrations.models import AuthType, Provider
from pipelines.models import FieldMappingVersion, Workflow
from tests.integrations.factories import ConnectionFactory

CLAY_SECRET = "clay-shared-secret-0123456789abcdef"

# The mapping of the YAML example (docs/pipelines.md).
CLAY_RULES = [
    {"from": "Email", "to": "email", "transforms": ["strip", "lower"], "required": True},
    {"from": "First Name", "to": "firstname", "transforms": ["strip"], "required": False},
    {"from": "Last Name", "to": "lastname", "transforms": ["strip"], "required": False},
    {"from": "Company Name", "to": "company", "transforms": ["strip"], "required": False},
    {"from": "Job Title", "to": "jobtitle", "transforms": ["strip"], "required": False},
    {"from": "Phone", "to": "phone", "transforms": ["e164"], "required": False},
    {"from": "Country", "to": "country", "transforms": ["strip"], "required": False},
    {"from": "Website", "to": "website", "transforms": ["url"], "required": False},
    {"from": "LinkedIn URL", "to": "hs_linkedin_url", "transforms": ["url"], "required": False},
]


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
