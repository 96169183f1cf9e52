"""One HTTP transport under every provider client: timeouts, retries, rate limits, request log.

Shape after healthchecks' integrations (a small class per provider over one shared transport,
typed errors with ``permanent``). Retry policy, from docs/reference/reliability.md#retries-and-backoff and
docs/reference/hubspot.md#errors, #rate-limits:

- retry 429, 5xx, timeouts and connection errors, at most ``max_attempts`` attempts in all;
- wait ``Retry-After`` (or the provider's hint) when given, else full jitter
  ``uniform(0, min(cap, base * 2**n))``: spreads a herd of workers, costs a little mean latency;
- never wait in-process longer than ``max_retry_wait``: a daily 429, a 477 of hours, an
  Apollo hourly window are raised at once with ``retry_after`` so the Celery task reschedules
  ("never spin", never block a worker);
- permanent errors (401, 403, other 4xx) are raised on the first attempt.

A provider passes ``error_parser(response) -> ProviderError | None`` to read its own error
bodies; ``classify_response`` is the status-code fallback every parser ends with.
"""

from __future__ import annotations

import functools
import random
import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import certifi
import httpx

from integrations.addresses import AddressRefused, PinnedTransport
from integrations.auth import NoAuth
from integrations.errors import (
    AuthFailed,
    MissingScope,
    ProviderError,
    RateLimited,
    RequestRejected,
    ServerError,
    TimedOut,
    Unreachable,
    redact,
)
from integrations.ratelimit import RateLimitSpec, SharedRateLimit
from integrations.url_path import path_refusal


@dataclass
class ClientConfig:
    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    rate_limit: RateLimitSpec | None = None
    search_rate_limit: RateLimitSpec | None = None
    limiter_key: str = "default"
    user_agent: str = "Switchyard/0.1"
    # Redis URL of the shared limiter; None keeps the window in this process (tests, demo).
    limiter_url: str | None = None
    # Longest in-process sleep for a full limiter window before raising RateLimited.
    limiter_max_wait: float = 10.0
    # Longest in-process sleep for a provider hint (Retry-After...) before raising instead.
    max_retry_wait: float = 60.0
    # The account's time zone, where HubSpot's daily limit resets (docs/reference/hubspot.md#rate-limits).
    timezone: str = "UTC"


@dataclass(frozen=True)
class RequestRecord:
    """One attempt, safe to store: a path template, never the URL, body, ids or keys."""

    method: str
    path_template: str
    status: int | None
    duration_ms: float
    attempt: int
    rate_limit_remaining: int | None
    error_category: str | None
    rate_limit_max: int | None = None
    daily_remaining: int | None = None
    daily_max: int | None = None


_QUERY_SECRET = re.compile(r"(?i)\b(KEY|api_key|apikey|hapikey|access_token|token)=[^&\s#\"']+")


def mask_url(url: str | httpx.URL) -> str:
    """``...api.json?KEY=abc&LOOKUP=x`` → ``...api.json?KEY=****&LOOKUP=x``."""
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=****", str(url))


def backoff_delay(
    retry: int, base: float, cap: float, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """Full jitter (AWS, via docs/reference/reliability.md#retries-and-backoff): ``uniform(0, min(cap, base*2**retry))``
    where ``retry`` is 0 for the first retry."""
    return uniform(0.0, min(cap, base * 2**retry))


_REMAINING = (
    "X-HubSpot-RateLimit-Remaining",  # docs/reference/hubspot.md#rate-limits
    "X-RateLimit-Remaining",  # Clearbit, docs/reference/clearbit.md
    "x-minute-requests-left",  # Apollo, docs/reference/apollo.md#rate-limits
)
_MAX = ("X-HubSpot-RateLimit-Max", "X-RateLimit-Limit", "x-rate-limit-minute")
# The daily budget: HubSpot's pair (absent for OAuth calls, docs/reference/hubspot.md#rate-limits)
# and Apollo's two spellings (docs/reference/apollo.md#rate-limits).
_DAILY_REMAINING = (
    "X-HubSpot-RateLimit-Daily-Remaining",
    "x-daily-requests-left",
    "x-24-hour-requests-left",
)
_DAILY_MAX = ("X-HubSpot-RateLimit-Daily", "x-rate-limit-daily", "x-rate-limit-24-hour")


def rate_limit_remaining(
    headers: Mapping[str, str], names: tuple[str, ...] = _REMAINING
) -> int | None:
    """The burst-window "requests left" (or, with ``names=_MAX``, the limit) header, or None."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: none of our providers sends it; fall back to backoff.


def classify_response(response: httpx.Response, provider: str = "provider") -> ProviderError | None:
    """Status-code fallback: None for 1xx-3xx, else the typed error. No body text in messages."""
    status = response.status_code
    if status < 400:
        return None
    where = f"{provider} {response.request.method} -> {status}"
    if status == 401:
        return AuthFailed(f"{where}: credentials rejected", status=status)
    if status == 403:
        return MissingScope(f"{where}: permission or scope missing", status=status)
    if status == 429:
        return RateLimited(
            f"{where}: rate limited", retry_after=parse_retry_after(response.headers)
        )
    if status == 408:
        return TimedOut(f"{where}: request timeout", status=status)
    if status >= 500:
        return ServerError(
            f"{where}: server error", status=status, retry_after=parse_retry_after(response.headers)
        )
    return RequestRejected(f"{where}: request rejected", status=status)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for the process, the same as httpx's default (certifi's CA
    bundle, https://www.python-httpx.org/advanced/ssl/). httpx otherwise builds one for every
    Client, reading the whole bundle: ~20 ms of CPU here, and a client is made per batch, so
    on two cores it held loading to 75 % of HubSpot's rate limit. Never modified once made,
    so sharing it between clients and threads is safe."""
    return ssl.create_default_context(cafile=certifi.where())


class ProviderHTTP:
    """One ``httpx.Client`` for one connection: retries, limits, error parsing, request log.
    Not thread-safe across threads; one per task. Its ``transport=`` argument is an httpx
    transport (what carries the bytes: the network by default, an in-process stand-in in
    tests); this class is named for what it is, so "transport" has that one meaning."""

    def __init__(
        self,
        config: ClientConfig,
        auth: Any = None,
        *,
        provider: str = "provider",
        transport: httpx.BaseTransport | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        error_parser: Callable[[httpx.Response], ProviderError | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
        extra_secrets: Iterable[str] = (),
    ) -> None:
        self.config = config
        self.auth = auth or NoAuth()
        self.provider = provider
        self._on_request = on_request
        self._error_parser = error_parser or (lambda r: classify_response(r, provider))
        self._sleep = sleep
        self._clock = clock
        self._uniform = uniform
        secrets = getattr(self.auth, "secrets", list)()
        self._secrets = tuple(s for s in [*secrets, *extra_secrets] if s)
        self._blocked_until = 0.0
        self._limiter = self._make_limiter(config.rate_limit, "")
        self._search_limiter = self._make_limiter(config.search_rate_limit, ":search")
        if transport is None:
            # Production: connect only to checked public addresses, pinned for this client
            # (integrations/addresses.py). Tests and the demo's in-process stand-ins pass
            # their own transport.
            transport = PinnedTransport(verify=tls_context())
        self._client = httpx.Client(
            base_url=config.base_url,
            transport=transport,
            verify=tls_context(),
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            headers={"User-Agent": config.user_agent, "Accept": "application/json"},
            follow_redirects=False,  # a redirect could carry a query-string key to another host
        )

    def _make_limiter(self, spec: RateLimitSpec | None, suffix: str) -> SharedRateLimit | None:
        if spec is None:
            return None
        return SharedRateLimit(
            self.config.limiter_url, spec, self.config.limiter_key + suffix, sleep=self._sleep
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ProviderHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mask(self, text: str) -> str:
        """Scrub query keys, auth secrets and e-mails from a message we are about to raise."""
        return redact(mask_url(text), self._secrets)

    def request(
        self,
        method: str,
        path_template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        search: bool = False,
        accept: Iterable[int] = (),
        raw_path: str | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; return the response, or raise a ProviderError.

        ``path_template`` ("/crm/v3/objects/{type}/batch/upsert") is what the request log sees;
        ``path_params`` are URL-quoted into it. Statuses in ``accept`` (e.g. 404 "no data")
        are returned instead of raised. ``raw_path`` replaces the formatted template on the wire
        when the path itself is a secret (a Slack webhook), so only the template is logged.

        ``idempotent=False`` (a create, a chat message) retries only failures that prove the
        request was not applied (connect errors, 429, 423, 477). A read timeout or a 5xx may
        have been applied, so it is raised at once with ``context["maybe_applied"] = True``:
        a blind resend would duplicate the record (docs/reference/reliability.md#invariants).
        """
        path = (
            raw_path
            if raw_path is not None
            else path_template.format(
                **{k: quote(str(v), safe="") for k, v in (path_params or {}).items()}
            )
        )
        refusal = path_refusal(path)
        if refusal is not None:
            # Last line of defence (forms and config apply refuse it first): an absolute or
            # escaping path would carry this connection's credential to another host.
            raise RequestRejected(
                self.mask(f"{self.provider} {method} {path_template}: refused, {refusal}"),
                permanent=True,
                category="unsafe_path",
            )
        accepted = set(accept)
        limiter = self._search_limiter if search else self._limiter
        cfg = self.config
        for attempt in range(1, cfg.max_attempts + 1):
            self._wait_for_window()
            if limiter is not None:
                limiter.acquire(max_wait=cfg.limiter_max_wait)
            request_headers = {**(headers or {}), **self.auth.headers()}
            query = {**(params or {}), **getattr(self.auth, "params", dict)()}
            started = self._clock()
            response: httpx.Response | None = None
            try:
                response = self._client.request(
                    method,
                    path,
                    params=query or None,
                    json=json,
                    data=data,
                    content=content,  # bytes sent as signed (a re-serialised body breaks it)
                    headers=request_headers,
                )
            except UnicodeEncodeError:
                # A pasted credential with a non-ASCII character cannot be a header value;
                # nothing was sent, and no retry can help. The value itself is never quoted.
                raise RequestRejected(
                    f"{self.provider} {method} {path_template}: refused, a header value (the "
                    "credential?) holds characters HTTP headers cannot carry",
                    permanent=True,
                    category="invalid_header",
                ) from None
            except AddressRefused as exc:
                # An internal or metadata address: nothing was sent, and retrying cannot help.
                raise RequestRejected(
                    self.mask(f"{self.provider} {method} {path_template}: refused, {exc}"),
                    permanent=True,
                    category="address_refused",
                ) from None
            except httpx.TimeoutException as exc:
                error: ProviderError | None = TimedOut(
                    self.mask(f"{self.provider} {method} {path_template}: {type(exc).__name__}"),
                    context={"maybe_applied": not isinstance(exc, httpx.ConnectTimeout)},
                )
            except httpx.TransportError as exc:
                # ConnectError (refused, DNS), ReadError, RemoteProtocolError... all retryable;
                # the class name is enough and keeps exception text (which may hold the URL) out.
                error = Unreachable(
                    self.mask(f"{self.provider} {method} {path_template}: {type(exc).__name__}"),
                    context={"maybe_applied": not isinstance(exc, httpx.ConnectError)},
                )
            else:
                error = None if response.status_code in accepted else self._error_parser(response)
                if (
                    error is not None
                    and response.status_code >= 500
                    and response.status_code != 477
                ):
                    error.context.setdefault("maybe_applied", True)
            duration_ms = (self._clock() - started) * 1000
            remaining = rate_limit_remaining(response.headers) if response is not None else None
            self._record(method, path_template, response, duration_ms, attempt, remaining, error)
            if error is None and response is not None:
                self._note_window(response, remaining)
                return response
            # Here error is set: a missing response always comes with an exception above.
            if not idempotent and error.context.get("maybe_applied"):
                error.message = self.mask(error.message)
                error.args = (error.message,)
                raise error
            if error.message:
                error.message = self.mask(error.message)
                error.args = (error.message,)
            delay = self._retry_delay(error, attempt)
            if delay is None:
                raise error
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error`` now."""
        cfg = self.config
        if error.permanent or attempt >= cfg.max_attempts:
            return None
        if isinstance(error, RateLimited) and error.daily:
            # never spin on a spent daily budget (docs/reference/reliability.md#retries-and-backoff)
            return None
        if error.retry_after is not None:
            if error.retry_after > cfg.max_retry_wait:
                return None  # hours-long hint: let the task reschedule with a countdown
            return error.retry_after
        return backoff_delay(attempt - 1, cfg.backoff_base, cfg.backoff_cap, self._uniform)

    def _note_window(self, response: httpx.Response, remaining: int | None) -> None:
        """HubSpot says Remaining=0: hold the next request for the interval
        (docs/reference/hubspot.md#rate-limits). Costs at most one interval of idle time; saves a 429 and its backoff."""
        if remaining != 0:
            return
        interval_ms = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            interval = float(interval_ms) / 1000 if interval_ms else None
        except ValueError:
            interval = None
        if interval:
            self._blocked_until = self._clock() + min(interval, self.config.max_retry_wait)

    def _wait_for_window(self) -> None:
        wait = self._blocked_until - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._blocked_until = 0.0

    def _record(
        self,
        method: str,
        path_template: str,
        response: httpx.Response | None,
        duration_ms: float,
        attempt: int,
        remaining: int | None,
        error: ProviderError | None,
    ) -> None:
        if self._on_request is None:
            return
        headers = response.headers if response is not None else {}
        self._on_request(
            RequestRecord(
                method=method.upper(),
                path_template=mask_url(path_template.split("?", 1)[0]),
                status=response.status_code if response is not None else None,
                duration_ms=round(duration_ms, 3),
                attempt=attempt,
                rate_limit_remaining=remaining,
                error_category=error.kind if error is not None else None,
                rate_limit_max=rate_limit_remaining(headers, _MAX),
                daily_remaining=rate_limit_remaining(headers, _DAILY_REMAINING),
                daily_max=rate_limit_remaining(headers, _DAILY_MAX),
            )
        )


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body, or None for an empty or non-JSON body."""
    try:
        return response.json()
    except ValueError:
        return None
