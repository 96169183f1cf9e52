"""Claim work from the database; a Celery message is only a wake-up.

The pattern (docs/operations.md, "Work is claimed from the database"), for any kind of work
kept as rows with a state:

1. The row is the truth: pending, leased (with a token, a holder and an expiry), or done.
2. A task is woken for an *owner* of work (a run, a portal, a workflow), not for one row. It
   claims the next due row with ``row_claim`` (``SELECT … FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so concurrent claimers never wait on each other nor take the same row) and
   keeps claiming while work is due.
3. A claimer stamps a heartbeat on the owner. A periodic sweeper wakes a task for every owner
   with due work and a stale heartbeat: a lost message, a task that raised and was consumed,
   a broker that lost everything, a worker that died holding reserved messages all look the
   same (due work, nobody working) and cost one sweep interval plus the heartbeat, not a
   guess at how long a queued message may take.
4. ``wake_up`` never fails its caller: if the broker is down the work is still in the database
   and the sweeper sends the wake-up again once it is back.
5. Infrastructure errors (database or broker unreachable) are not the work's fault: the task
   retries with backoff and jitter (``retry_delay``), nothing is counted against the row.

Pipelines' loader and stager use it; it knows no pipeline model.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Model, QuerySet

logger = logging.getLogger(__name__)

RowT = TypeVar("RowT", bound=Model)


def _infrastructure_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [OperationalError, InterfaceError, ConnectionError]
    try:
        from kombu.exceptions import OperationalError as BrokerError

        types.append(BrokerError)
    except ImportError:  # pragma: no cover - kombu ships with Celery
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout

        types += [RedisConnectionError, RedisTimeout]
    except ImportError:  # pragma: no cover - redis-py ships with the Redis transport
        pass
    return tuple(types)


INFRASTRUCTURE_ERRORS = _infrastructure_error_types()


def infrastructure_error(exc: BaseException) -> bool:
    """True for a database or broker that cannot be reached (restarting, "the database system
    is starting up", connection refused or reset): retry later, never blame the work."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def retry_delay(retries: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so a fleet
    of workers that lost the database together does not come back in lockstep."""
    step = min(cap, base * 2**retries)
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not a secret


def row_claim(queryset: QuerySet[RowT], *, update: dict[str, Any]) -> RowT | None:
    """Take the first row of ``queryset`` (order it) and apply ``update`` to it, in one short
    transaction; None if no row is free. On PostgreSQL rows locked by another claimer are
    skipped, not waited for. SQLite has no SKIP LOCKED: its write transactions are IMMEDIATE
    (settings), so claimers take turns and the second sees the first's update."""
    skip = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        row = queryset.select_for_update(skip_locked=skip, of=("self",)).first()
        if row is None:
            return None
        type(row)._default_manager.filter(pk=row.pk).update(**update)
        row.refresh_from_db(fields=list(update))
    return row


def wake_up(task: Any, *args: Any, countdown: float | None = None) -> bool:
    """Publish a wake-up for ``task``. A broker that cannot be reached is logged, not raised:
    the work is in the database and the sweeper wakes it again."""
    try:
        if countdown is None:
            task.delay(*args)
        else:
            task.apply_async(args=args, countdown=countdown)
    except Exception as exc:  # noqa: BLE001 - any publish failure is recovered by the sweeper
        if not infrastructure_error(exc):
            raise
        logger.warning("wake-up for %s not sent (%s); the sweeper will send it", task.name, exc)
        return False
    return True


# Wake-up windows this process knows are open: key -> wall-clock end (time.time()).
_windows_open: dict[str, float] = {}


def wake_window_open(key: str, *, seconds: float) -> bool:
    """True for the one caller, across all processes sharing the cache, that opens the window
    ``key`` of ``seconds``: it sends the wake-up that claims everything stored in the window.
    Everyone else gets False; a process that learned a window is open (and when it ends, the
    cache holds it) asks again only after that end, so a burst costs each process one cache
    round trip per window, not one per request. A record committed just as its window's
    wake-up claimed is left for the next window or the sweeper (docs/operations.md, "Web
    server and webhook intake"): a wake-up is a hint, the rows are the truth."""
    now = time.time()
    if _windows_open.get(key, 0.0) > now:
        return False
    try:
        for _attempt in range(2):
            end = now + seconds
            if cache.add(key, end, timeout=seconds):
                _windows_open[key] = end
                return True
            other = cache.get(key)
            if isinstance(other, float):
                _windows_open[key] = other
                return False
            # Expired between the two calls: try to open the next window.
    except INFRASTRUCTURE_ERRORS as exc:
        # The cache (Redis) is unreachable: this process opens the window on its own and
        # wakes (wake_up logs what it cannot send), once per window, not once per request.
        logger.warning("wake-up window %s not checked (%s)", key, exc)
        _windows_open[key] = now + seconds
        return True
    return False


def lease_holder_here() -> str:
    """host:pid of this process, kept on a leased row."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_holder_gone(holder: str) -> bool:
    """True only when the holder was a process of this host that has exited."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: existence check, nothing is sent
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, under another user
        return False
    return False


class LiveLeases:
    """Lease tokens held by live threads of this process. A row leased under this process's
    name whose token is not here was left behind by a thread that lost its database connection
    mid-work (it could not write its result): it can be taken back at once instead of waiting
    for the lease to expire."""

    def __init__(self) -> None:
        self._tokens: set[str] = set()
        self._lock = threading.Lock()

    def add(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)

    def discard(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def snapshot(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._tokens)
