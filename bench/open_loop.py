"""An open-loop HTTP load generator: requests leave at a fixed rate whatever the server does.

A closed loop (N clients, each sending when its previous answer came) slows down with the
server and hides its queueing ("coordinated omission"): a request that would have waited
behind a slow one is simply never sent. Here request i is due at start + i / rate; its
latency is measured from that moment to the last byte of the answer, so time spent queued
in the client because every connection was busy counts too. Plain asyncio streams and
HTTP/1.1 (keep-alive when the server allows it, a new connection when it answers
``Connection: close``), so the generator costs little CPU next to the server it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    seconds: float = 0.0
    connections_opened: int = 0
    stale_retries: int = 0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    def summary(self) -> dict:
        return {
            "sent": self.sent,
            "target_rps": None,
            "achieved_rps": round(self.answered / self.seconds, 1) if self.seconds else 0,
            "p50_ms": round(self.percentile(0.50), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 1),
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(self.errors),
            "connections_opened": self.connections_opened,
            "stale_connection_retries": self.stale_retries,
        }


class _Pool:
    def __init__(self, host: str, port: int, limit: int, outcome: Outcome) -> None:
        self.host, self.port, self.outcome = host, port, outcome
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(limit)

    async def take(
        self, *, fresh: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle and not fresh:
            return self.idle.pop()
        self.outcome.connections_opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def give_back(self, stream, reusable: bool) -> None:  # noqa: ANN001 - reader, writer
        if reusable:
            self.idle.append(stream)
        else:
            stream[1].close()


async def _exchange(stream, request: bytes) -> tuple[int, bool]:  # noqa: ANN001
    reader, writer = stream
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before answering")
    status = int(status_line.split()[1])
    length, close = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, not close


async def _one(pool: _Pool, request: bytes, due: float, outcome: Outcome, timeout: float) -> None:
    async with pool.slots:
        stream = None
        try:
            reused = bool(pool.idle)
            stream = await pool.take()
            try:
                status, reusable = await asyncio.wait_for(_exchange(stream, request), timeout)
            except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection as we reused it: nothing
                # was answered, so send again on a new one (what HTTP client pools do).
                stream[1].close()
                outcome.stale_retries += 1
                stream = await pool.take(fresh=True)
                status, reusable = await asyncio.wait_for(_exchange(stream, request), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            name = type(exc).__name__
            outcome.errors[name] = outcome.errors.get(name, 0) + 1
            if stream is not None:
                stream[1].close()
            return
        pool.give_back(stream, reusable)
    outcome.latencies_ms.append((time.perf_counter() - due) * 1000)
    outcome.statuses[status] = outcome.statuses.get(status, 0) + 1


async def _drive(
    host: str,
    port: int,
    request_for: Callable[[int], bytes],
    rate: float,
    seconds: float,
    connections: int,
    timeout: float,
) -> Outcome:
    outcome = Outcome()
    pool = _Pool(host, port, connections, outcome)
    total = int(rate * seconds)
    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(pool, request_for(i), due, outcome, timeout)))
        outcome.sent += 1
    await asyncio.gather(*tasks)
    outcome.seconds = time.perf_counter() - start
    for _reader, writer in pool.idle:
        writer.close()
    return outcome


def open_loop_run(
    *,
    host: str,
    port: int,
    request_for: Callable[[int], bytes],
    rate: float,
    seconds: float,
    connections: int = 64,
    timeout: float = 30.0,
) -> Outcome:
    """Send ``rate * seconds`` requests, request i due at start + i / rate; at most
    ``connections`` in flight (a request finding all busy waits, and that wait is latency)."""
    return asyncio.run(_drive(host, port, request_for, rate, seconds, connections, timeout))


def http_post(*, host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
