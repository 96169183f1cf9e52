"""Apollo.io stand-in (test double): ``python -m sandbox.apollo --port 8767``."""

from .app import ApolloSandbox

__all__ = ["ApolloSandbox"]
