"""Apollo.io people and organization enrichment (docs/reference/apollo.md)."""

from integrations.apollo.client import ApolloClient

__all__ = ["ApolloClient"]
