"""``python -m sandbox.builtwith --host 127.0.0.1 --port 8768`` (make demo)."""

from sandbox.builtwith.app import BuiltWithSandbox
from sandbox.standin import run_main

if __name__ == "__main__":
    raise SystemExit(
        run_main(
            "python -m sandbox.builtwith", 8768, lambda a: BuiltWithSandbox(latency_ms=a.latency_ms)
        )
    )
