"""``python -m sandbox.hubspot --port 8765``: run the sandbox as a process (make demo)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from .app import HubSpotSandbox
from .server import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.hubspot", description="HubSpot CRM v3 sandbox (test double)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate-limit", type=int, default=190, help="requests per window")
    parser.add_argument("--window-seconds", type=float, default=10)
    parser.add_argument("--search-per-second", type=int, default=5)
    parser.add_argument("--daily-limit", type=int, default=1_000_000, help="0 = unlimited")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
    for kind in ("429", "500", "502", "503", "timeout"):
        parser.add_argument(
            f"--fault-{kind}",
            type=float,
            default=0.0,
            metavar="P",
            help=f"probability of an injected {kind}",
        )
    parser.add_argument("--timeout-seconds", type=float, default=5.0)
    parser.add_argument(
        "--timeout-after-write",
        action="store_true",
        help="apply the write before a timeout fault (applied but lost)",
    )
    parser.add_argument("--batch-errors", choices=("auto", "400", "207"), default="auto")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accepted bearer token (repeatable; default: any)",
    )
    parser.add_argument("--config", help="JSON object of further knobs (see docs/sandbox.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = {
        k: getattr(args, f"fault_{k}")
        for k in ("429", "500", "502", "503", "timeout")
        if getattr(args, f"fault_{k}")
    }
    extra: dict[str, Any] = json.loads(args.config) if args.config else {}
    sandbox = HubSpotSandbox(
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
        search_per_second=args.search_per_second,
        daily_limit=args.daily_limit or None,
        latency_ms=args.latency_ms,
        fault_rates=faults,
        seed=args.seed,
        tokens=args.tokens,
        batch_error_mode={
            "auto": "auto",
            "400": "whole_batch_400",
            "207": "per_input_207_with_trace_id",
        }[args.batch_errors],
        timeout_seconds=args.timeout_seconds,
        timeout_after_write=args.timeout_after_write,
        **extra,
    )
    server, thread = serve(sandbox, args.host, args.port)
    print(
        f"HubSpot sandbox on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True
    )
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
