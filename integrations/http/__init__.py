"""A generic JSON API client (internal scoring APIs and the like)."""

from integrations.http.client import HttpJsonClient, JsonApiClient, extract

__all__ = ["HttpJsonClient", "JsonApiClient", "extract"]
