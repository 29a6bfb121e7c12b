"""ASGI middleware of the HTTP server: request latency by route, and rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storyline.metrics import HTTP_LATENCY, HTTP_THROTTLED, method_label
from storyline.read.config import ReadSettings
from storyline.read.pages import SECURITY_HEADERS
from storyline.web.keys import KeyRing
from storyline.web.limits import RateLimiter, parse_rate, retry_after

#: Paths no rate limit applies to: probes and scrapes must never be throttled.
UNLIMITED_PATHS = frozenset({"/metrics", "/livez", "/readyz", "/healthz"})


class RequestMetrics:
    """Request latency by route *template* (``/v1/stories/{story_id}``), never the raw path,
    so the number of series stays bounded whatever clients send; unmatched paths share one
    label. Measured to the start of the response: an SSE stream counts its set-up, not its
    hours of streaming."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        done = False

        def observe(status: int) -> None:
            nonlocal done
            done = True
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(method_label(scope["method"]), template,
                                str(status)).observe(time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not done:
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not done:
                observe(500)


class RateLimits:
    """429 with Retry-After once a client address, or an API key, has used its bucket
    (:mod:`storyline.web.limits`). GET/HEAD and POST have their own rates; a request with
    a valid X-API-Key takes a token from its key's bucket as well as its address's."""

    def __init__(self, app: ASGIApp, *, keys: KeyRing, read_settings: ReadSettings,
                 clock: Callable[[], float]) -> None:
        self.app = app
        self.keys = keys

        def limiter(text: str) -> RateLimiter | None:
            rate = parse_rate(text)
            return None if rate is None else RateLimiter(rate, clock)

        self.limiters: dict[tuple[str, str], RateLimiter | None] = {
            ("GET", "client"): limiter(read_settings.rate_limit_get_per_client),
            ("GET", "key"): limiter(read_settings.rate_limit_get_per_key),
            ("POST", "client"): limiter(read_settings.rate_limit_post_per_client),
            ("POST", "key"): limiter(read_settings.rate_limit_post_per_key),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        method = {"GET": "GET", "HEAD": "GET", "POST": "POST"}.get(scope["method"])
        wait, limit = 0.0, ""
        if method is not None:
            client = scope.get("client")
            by_client = self.limiters[(method, "client")]
            if by_client is not None:
                wait, limit = by_client.take(client[0] if client else "unknown"), "client"
            by_key = self.limiters[(method, "key")]
            # a client already refused costs no key check: a flood is turned away cheaply
            secret = _header(scope, b"x-api-key") if wait <= 0 and by_key is not None else None
            key_id = self.keys.verify(secret) if secret else None
            if by_key is not None and key_id is not None:
                key_wait = by_key.take(key_id)
                if key_wait > wait:
                    wait, limit = key_wait, "key"
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        HTTP_THROTTLED.labels(method, limit).inc()
        # written straight to the ASGI channel: the refusal must cost less than the flood
        seconds = retry_after(wait)
        who = "API key" if limit == "key" else "client"
        headers = [(b"retry-after", seconds.encode())]
        if scope["path"].startswith("/v1/"):
            body = (f'{{"error":"rate limit of this {who} exceeded; retry after {seconds} s",'
                    f'"field":"{limit}","retry_after":"{seconds}"}}').encode()
            headers.append((b"content-type", b"application/json"))
        else:  # a reader's browser: a page, with the pages' headers
            body = _THROTTLED_PAGE.format(who=who, seconds=seconds).encode()
            headers += [(b"content-type", b"text/html; charset=utf-8"), *_PAGE_HEADERS]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_THROTTLED_PAGE = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>Too many requests – Storyline</title></head><body><main>"
                   "<p>Too many requests from this {who}: please retry after {seconds} s.</p>"
                   "</main></body></html>\n")
_PAGE_HEADERS = [(name.lower().encode(), value.encode())
                 for name, value in SECURITY_HEADERS.items()]


class HeadAsGet:
    """HEAD answered as the GET of the same path without its body (status, headers and
    ``content-length`` as the GET's), for link checkers and uptime probes: the routes are
    declared for GET only. An event stream has no end to measure, so its HEAD stays 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "HEAD"
                or scope["path"].endswith("/events")):
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(dict(scope, method="GET"), receive, without_body)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


