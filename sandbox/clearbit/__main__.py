"""``python -m sandbox.clearbit --host 127.0.0.1 --port 8769`` (make demo)."""

from sandbox.clearbit.app import ClearbitSandbox
from sandbox.standin import run_main

if __name__ == "__main__":
    raise SystemExit(
        run_main(
            "python -m sandbox.clearbit", 8769, lambda a: ClearbitSandbox(latency_ms=a.latency_ms)
        )
    )
