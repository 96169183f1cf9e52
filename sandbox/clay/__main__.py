"""``python -m sandbox.clay --port 8770``: the Clay stand-in as a process (make demo)."""

from __future__ import annotations

import argparse
import sys

from sandbox._standin import run_forever

from .app import ClaySandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.clay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8770)
    parser.add_argument("--callback-delay", type=float, default=3.0)
    args = parser.parse_args(argv)
    app = ClaySandbox(callback_delay=args.callback_delay)
    return run_forever(app, args.host, args.port, "Clay stand-in")


if __name__ == "__main__":
    sys.exit(main())
