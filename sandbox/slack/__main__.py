"""``python -m sandbox.slack --port 8766``: run the Slack stand-in as a process (make demo)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .app import SlackSandbox
from .server import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.slack", description="Slack Web API + incoming webhooks stand-in"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--per-channel-per-second", type=float, default=1.0, help="sustained message rate"
    )
    parser.add_argument("--burst", type=int, default=3, help="messages a channel may burst")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accepted bot token (repeatable; default: any xoxb-/xoxp- token)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sandbox = SlackSandbox(
        per_channel_per_second=args.per_channel_per_second, burst=args.burst, tokens=args.tokens
    )
    server, thread = serve(sandbox, args.host, args.port)
    print(f"Slack sandbox on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
