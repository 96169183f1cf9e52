"""``python -m sandbox.finance --port 8771 --secret whsec_...``: the receiver as a process."""

from __future__ import annotations

import argparse
import sys

from sandbox._standin import run_forever

from .app import FinanceReceiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.finance")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--secret", action="append", default=[], help="whsec_… (repeatable)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per delivery")
    args = parser.parse_args(argv)
    app = FinanceReceiver(secrets=args.secret, latency=args.latency)
    return run_forever(app, args.host, args.port, "Finance receiver")


if __name__ == "__main__":
    sys.exit(main())
