"""Rate limits (token buckets) and the recent-article set of idempotent POSTs, both in
memory of one API process.

Rate limits: a bucket per (method class, client address) and per (method class, API key
id) holds up to ``burst`` tokens and gains ``per_second`` tokens a second; a request takes
one, and a request that finds the bucket empty is answered 429 with ``Retry-After`` (whole
seconds until a token is there). Time comes from a monotonic clock handed in, so tests
move it by hand. Buckets are kept for at most ``max_buckets`` callers, least recently seen
dropped first (a dropped caller starts again with a full bucket: lenient, never wrong).
Several API processes each keep their own buckets: the limits are per process.

Idempotency: :class:`RecentArticles` remembers the last ``size`` accepted (uri, version)
with the hash of their content and where they landed on the log. The same (uri, version)
with the same content again is acknowledged with that position and not written again; a
concurrent twin waits for the first one's outcome. It is best-effort: the set is lost at a
restart and bounded, so a retry after either is written a second time, which the pipeline
absorbs anyway (the worker folds a re-sent identical article as no change).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

_RATE = re.compile(r"\s*(?P<rate>[0-9]+(?:\.[0-9]+)?)\s*(?:/\s*(?P<burst>[0-9]+)\s*)?")


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


def parse_rate(text: str) -> Rate | None:
    """``"50/100"``: 50 a second, bursts of 100; ``"50"``: burst = max(1, 2 x rate);
    ``"0"``: no limit (None)."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"rate limit {text!r}: expected PER_SECOND[/BURST], e.g. 50/100 "
                         "(0: no limit)")
    per_second = float(match["rate"])
    if per_second == 0:
        return None
    burst = int(match["burst"]) if match["burst"] else max(1, math.ceil(2 * per_second))
    if burst < 1:
        raise ValueError(f"rate limit {text!r}: the burst must be at least 1")
    return Rate(per_second, burst)


class RateLimiter:
    """Token buckets of one rate, one per caller."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = 100_000) -> None:
        self.rate = rate
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, caller: str) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there will be."""
        now = self.clock()
        tokens, then = self._buckets.pop(caller, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - then) * self.rate.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate.per_second
        self._buckets[caller] = (tokens, now)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))


@dataclass(frozen=True)
class Landed:
    partition: int
    offset: int


class RecentArticles:
    """The last ``size`` accepted (uri, version) -> (content hash, where it landed)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, int], tuple[str, Landed]] = OrderedDict()
        self._pending: dict[tuple[str, int, str], asyncio.Future[Landed]] = {}

    def get(self, uri: str, version: int, content: str) -> Landed | None:
        found = self._seen.get((uri, version))
        if found is None or found[0] != content:
            return None
        self._seen.move_to_end((uri, version))
        return found[1]

    async def once(self, uri: str, version: int, content: str,
                   write: Callable[[], Awaitable[Landed]]) -> tuple[Landed, bool]:
        """Write unless the same (uri, version, content) was written or is being written;
        (where it landed, whether this call wrote it). A failed write is not remembered."""
        if self.size <= 0:
            return await write(), True
        found = self.get(uri, version, content)
        if found is not None:
            return found, False
        pending = self._pending.get((uri, version, content))
        if pending is not None:
            return await asyncio.shield(pending), False
        future: asyncio.Future[Landed] = asyncio.get_running_loop().create_future()
        self._pending[(uri, version, content)] = future
        try:
            landed = await write()
        except BaseException as exc:
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: with no twin waiting, asyncio must not warn
            else:
                future.cancel()
            raise
        finally:
            del self._pending[(uri, version, content)]
        future.set_result(landed)
        self._seen[(uri, version)] = (content, landed)
        self._seen.move_to_end((uri, version))
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return landed, True
