"""Apollo.io people and organization enrichment (providers.md §4)."""

from integrations.apollo.client import ApolloClient

__all__ = ["ApolloClient"]
