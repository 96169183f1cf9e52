"""``python -m sandbox.apollo --host 127.0.0.1 --port 8767`` (make demo)."""

from sandbox.apollo.app import ApolloSandbox
from sandbox.standin import run_main

if __name__ == "__main__":
    raise SystemExit(
        run_main("python -m sandbox.apollo", 8767, lambda a: ApolloSandbox(latency_ms=a.latency_ms))
    )
