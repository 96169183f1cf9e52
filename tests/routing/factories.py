"""Factories for routing tests: owners, territories, a routing configuration and its rules."""

from __future__ import annotations

import factory

from integrations.models import AuthType, Connection, Provider
from pipelines.models import (
    Owner,
    RoutingConfig,
    RoutingStrategy,
    ScoringRule,
    Territory,
    TerritoryOwner,
    TerritoryRule,
    Workflow,
    WorkflowType,
)

CLIENT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
TOKEN = "pat-na1-00000000-routing-test-0000"
OWNERS = {
    "12345": ("Alice", "East"),
    "23456": ("Bob", "East"),
    "67890": ("Wendy", "West"),
    "11111": ("Emma", "Emea"),
    "22222": ("Erik", "Emea"),
}


class HubSpotConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        django_get_or_create = ("name",)

    name = "hubspot-main"
    provider = Provider.HUBSPOT
    auth_type = AuthType.PRIVATE_APP
    base_url = "http://sandbox.test"
    token = TOKEN
    client_secret = CLIENT_SECRET
    max_attempts = 2
    # The sandbox answers in-process; HubSpot's 100/10 s default would only slow the tests.
    rate_limit_requests = 1_000_000
    rate_limit_seconds = 1


class OwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Owner
        django_get_or_create = ("hubspot_id",)

    hubspot_id = factory.Sequence(lambda n: str(70000 + n))
    first_name = factory.Sequence(lambda n: f"Rep{n}")
    last_name = "Test"
    email = factory.LazyAttribute(lambda o: f"{o.first_name.lower()}@example.com")


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Territory {n}")
    strategy = RoutingStrategy.ROUND_ROBIN


class TerritoryOwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryOwner

    territory = factory.SubFactory(TerritoryFactory)
    owner = factory.SubFactory(OwnerFactory)
    position = factory.Sequence(lambda n: n)


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow
        django_get_or_create = ("slug",)

    slug = "mql-routing"
    type = WorkflowType.MQL_ROUTING
    destination_connection = factory.SubFactory(HubSpotConnectionFactory)


class RoutingConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingConfig

    workflow = factory.SubFactory(WorkflowFactory)
    hubspot_connection = factory.LazyAttribute(lambda c: c.workflow.destination_connection)


class TerritoryRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryRule

    config = factory.SubFactory(RoutingConfigFactory)
    territory = factory.SubFactory(TerritoryFactory)
    position = factory.Sequence(lambda n: n + 1)
    conditions = factory.LazyFunction(dict)


class ScoringRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    config = factory.SubFactory(RoutingConfigFactory)
    name = factory.Sequence(lambda n: f"rule {n}")
    points = 10
    conditions = factory.LazyFunction(dict)


def territory_with_owners(name: str, strategy: str, owners: list[Owner], **seat) -> Territory:
    territory = TerritoryFactory(name=name, strategy=strategy)
    for position, owner in enumerate(owners, start=1):
        TerritoryOwner.objects.create(territory=territory, owner=owner, position=position, **seat)
    return territory


def owners_example() -> dict[str, Owner]:
    return {
        i: OwnerFactory(
            hubspot_id=i, first_name=first, last_name=last, email=f"{first.lower()}@example.com"
        )
        for i, (first, last) in OWNERS.items()
    }


def routing_example(owners: dict[str, Owner]) -> RoutingConfig:
    """The example of docs/routing.md: East round robin, West fixed, EMEA weighted; rules by country/state."""
    east = territory_with_owners(
        "East", RoutingStrategy.ROUND_ROBIN, [owners["12345"], owners["23456"]]
    )
    west = territory_with_owners("West", RoutingStrategy.FIXED, [owners["67890"]])
    emea = territory_with_owners(
        "EMEA", RoutingStrategy.WEIGHTED_ROUND_ROBIN, [owners["11111"], owners["22222"]]
    )
    emea.memberships.filter(owner=owners["11111"]).update(weight=2, daily_cap=40)
    config = RoutingConfigFactory(fallback_territory=east)
    TerritoryRuleFactory(
        config=config,
        territory=emea,
        position=1,
        conditions={"country": {"in": ["GB", "DE", "FR", "NL", "ES", "IT", "IE", "SE"]}},
    )
    TerritoryRuleFactory(
        config=config,
        territory=west,
        position=2,
        conditions={"state": {"in": ["CA", "WA", "OR", "NV", "AZ", "CO", "UT"]}},
    )
    TerritoryRuleFactory(
        config=config, territory=east, position=3, conditions={"country": {"in": ["US", "CA"]}}
    )
    return config
