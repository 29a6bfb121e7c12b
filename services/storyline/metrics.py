"""Prometheus metrics of every Storyline process, and the small HTTP server that serves them
to the processes that have no web server of their own (the worker, the projector).

Every metric lives in prometheus-client's default registry, so one ``/metrics`` of a process
shows everything that process does (a ``storyline serve`` with its projector in process
shows both). Labels are bounded on purpose: partitions, the consumer's role, an error
*type* (never its message), an HTTP route *template* (never the raw path).
``deploy/grafana/storyline.json`` uses exactly these names, and a test holds it to that.

Operations endpoints (:class:`OperationsServer`):

- ``/metrics``: the exposition format;
- ``/livez``: 200 while the process's event loop keeps turning (a loop blocked for longer
  than ``stall_seconds`` is what a restart can cure);
- ``/readyz``: 200 when the process is serving data that is current: its state rebuilt or
  its store reachable, and its consumer lag within the configured bound; 503 with the
  reasons otherwise.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

if TYPE_CHECKING:
    from storyline.domain.pipeline import Warmth

log = structlog.get_logger("storyline.metrics")

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                   900.0, 3600.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONSUMER_LAG = Gauge(
    "storyline_consumer_lag_records",
    "Records on a partition not yet applied by this consumer (log end minus next offset).",
    ["consumer", "topic", "partition"])
STATE_AGE = Gauge(
    "storyline_state_age_seconds",
    "How stale a consumer's state is: 0 when caught up, else now minus the produce time of "
    "the last record it applied.",
    ["consumer", "topic", "partition"])
SNAPSHOT_AGE = Gauge(
    "storyline_snapshot_age_seconds",
    "Seconds since the newest snapshot of the worker's state for a partition was written.",
    ["topic", "partition"])
ARTICLES = Counter(
    "storyline_articles_processed",
    "Articles the worker took from the log (folded into a story, dead-lettered, or unchanged: "
    "an older version than the one folded, or a resend).",
    ["outcome"])
STORY_UPDATES = Counter(
    "storyline_story_updates_published", "StoryUpdated events the worker published.")
PRODUCE_TO_UPDATE = Histogram(
    "storyline_produce_to_update_seconds",
    "From an article's produce timestamp on the articles topic to the broker's ack of the "
    "StoryUpdated it caused.",
    buckets=LATENCY_BUCKETS)
DEAD_LETTERS = Counter(
    "storyline_dead_letters",
    "Records set aside as dead letters, by stage and reason (the error type).",
    ["stage", "reason"])
PROJECTED = Counter(
    "storyline_projector_records",
    "story-updates records the projector handled, by result.", ["result"])
HTTP_LATENCY = Histogram(
    "storyline_http_request_duration_seconds",
    "From a request's arrival to the start of its response, by route template.",
    ["method", "route", "status"], buckets=HTTP_BUCKETS)
HTTP_THROTTLED = Counter(
    "storyline_http_throttled_requests",
    "Requests answered 429 by the rate limits, by method and limit (key or client).",
    ["method", "limit"])
SUBMITTED = Counter(
    "storyline_http_articles",
    "Articles POSTed with a valid API key, by key id and outcome (accepted, duplicate, "
    "invalid, embargoed, too_large, failed).", ["key", "outcome"])
KAFKA_OUTAGES = Counter(
    "storyline_kafka_outages",
    "Broker outages seen by this process (the first failed connection after a good one).")
READY = Gauge(
    "storyline_ready", "1 when this process answers /readyz with 200.", ["process"])

# The fold's memory budgets (docs/architecture.md, "The cold store"): a process folding
# stories (the worker, the fold stage, each page process) publishes them after each record.
FOLD_FROZEN = Counter(
    "storyline_fold_stories_frozen",
    "Stories taken out of play to the cold store: idle, or over the articles budget "
    "(STORYLINE_WARM_STORY_ARTICLES) while likely to move again.", ["reason"])
FOLD_THAWED = Counter(
    "storyline_fold_stories_thawed",
    "Frozen stories read back into play (moved again, or read).")
FOLD_ANALYSES_DROPPED = Counter(
    "storyline_fold_memo_analyses_dropped",
    "Summary analyses dropped over the analyses budget (STORYLINE_WARM_ANALYSES); each is "
    "refilled, ~0.6 ms, when its story moves again.")
FOLD_BUDGET_HELD = Gauge(
    "storyline_fold_budget_held",
    "What the stories in play hold against each budget: articles, memo analyses.",
    ["budget"])
FOLD_BUDGET_LIMIT = Gauge(
    "storyline_fold_budget_limit", "Each budget of the stories in play.", ["budget"])

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class FoldWarmthMetrics:
    """Publishes a fold's counts of freezes, thaws and dropped analyses and its budgets'
    use (``storyline.domain.pipeline.Warmth``, read after each record) as the metrics
    above: counters grow by what the counts grew since the last call, so a pipeline made
    anew (a restore) starts its counts again without the counters going back."""

    _COUNTS = ("frozen_idle", "frozen_over_budget", "thawed", "analyses_dropped")

    def __init__(self) -> None:
        self._seen: dict[str, int] = dict.fromkeys(self._COUNTS, 0)
        self._source: object = None
        self._counters = {
            "frozen_idle": FOLD_FROZEN.labels(reason="idle"),
            "frozen_over_budget": FOLD_FROZEN.labels(reason="over_budget"),
            "thawed": FOLD_THAWED,
            "analyses_dropped": FOLD_ANALYSES_DROPPED,
        }
        self._held = {budget: FOLD_BUDGET_HELD.labels(budget=budget)
                      for budget in ("articles", "analyses")}
        self._limit = {budget: FOLD_BUDGET_LIMIT.labels(budget=budget)
                       for budget in ("articles", "analyses")}

    def publish(self, source: object, warmth: Warmth) -> None:
        """``warmth`` of the pipeline ``source``: its counts since it was made, so a new
        ``source`` counts from zero."""
        if source is not self._source:
            self._source = source
            self._seen = dict.fromkeys(self._COUNTS, 0)
        for name in self._COUNTS:
            now = getattr(warmth, name)
            grown = now - self._seen[name]
            if grown > 0:
                self._counters[name].inc(grown)
            self._seen[name] = now
        self._held["articles"].set(warmth.articles_in_play)
        self._held["analyses"].set(warmth.analyses_kept)
        self._limit["articles"].set(warmth.articles_budget)
        self._limit["analyses"].set(warmth.analyses_budget)


def generate_latest() -> bytes:
    return _generate_latest(REGISTRY)


def exported_sample_names() -> set[str]:
    """Every sample name this code base can export (a histogram's ``_bucket``, ``_sum``,
    ``_count``; a counter's ``_total``), whether or not a sample has been recorded yet."""
    names: set[str] = set()
    for metric in (CONSUMER_LAG, STATE_AGE, SNAPSHOT_AGE, ARTICLES, STORY_UPDATES,
                   PRODUCE_TO_UPDATE, DEAD_LETTERS, PROJECTED, HTTP_LATENCY, HTTP_THROTTLED,
                   SUBMITTED, KAFKA_OUTAGES, READY, FOLD_FROZEN, FOLD_THAWED,
                   FOLD_ANALYSES_DROPPED, FOLD_BUDGET_HELD, FOLD_BUDGET_LIMIT):
        for family in metric.describe():
            kind = family.type
            base = family.name
            if kind == "counter":
                names.update({f"{base}_total", f"{base}_created"})
            elif kind == "histogram":
                names.update({f"{base}_bucket", f"{base}_sum", f"{base}_count",
                              f"{base}_created"})
            else:
                names.add(base)
    return names


def method_label(method: str) -> str:
    return method if method in _METHODS else "OTHER"


def record_lag(consumer: str, topic: str, partition: int, *, end: int | None,
               position: int, last_timestamp: float | None, now: float | None = None
               ) -> int | None:
    """Set the lag and state-age gauges of one partition; returns the lag (None: the end
    of the log is not known yet)."""
    if end is None:
        return None
    lag = max(0, end - position)
    CONSUMER_LAG.labels(consumer, topic, str(partition)).set(lag)
    if lag == 0 or last_timestamp is None:
        age = 0.0
    else:
        age = max(0.0, (time.time() if now is None else now) - last_timestamp)
    STATE_AGE.labels(consumer, topic, str(partition)).set(age)
    return lag


async def publish_readiness(process: str, check: Callable[[], Health],
                            every: float = 5.0) -> None:
    """Keep ``storyline_ready{process}`` current whether or not anything probes /readyz
    (``check`` runs on a thread: it may query a store). Runs until cancelled."""
    while True:
        try:
            health = await asyncio.to_thread(check)
        except Exception:  # noqa: BLE001 - a failing check means not ready
            health = Health(False)
        READY.labels(process).set(1 if health.ok else 0)
        await asyncio.sleep(every)


@dataclass
class Health:
    """A process's answer to /livez and /readyz."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


class LoopWatch:
    """Liveness of an asyncio process: the loop calls :meth:`beat` on a timer; a loop that
    has not beaten for ``stall_seconds`` is stuck (blocked by a call, deadlocked)."""

    def __init__(self, stall_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.last = clock()

    def beat(self) -> None:
        self.last = self.clock()

    async def run(self, every: float = 1.0) -> None:
        """Beat every ``every`` seconds until cancelled (a task of the watched loop)."""
        while True:
            self.beat()
            await asyncio.sleep(every)

    def health(self) -> Health:
        silent = self.clock() - self.last
        return Health(silent <= self.stall_seconds,
                      {"event_loop_silent_seconds": round(silent, 3),
                       "stall_seconds": self.stall_seconds})


class OperationsServer:
    """``/metrics``, ``/livez`` and ``/readyz`` on a thread of their own (stdlib
    http.server, one request at a time), so a busy or blocked event loop cannot stop them
    from answering."""

    def __init__(self, host: str, port: int, *, process: str,
                 live: Callable[[], Health], ready: Callable[[], Health]) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest())
                elif path in ("/livez", "/readyz"):
                    health = owner.check(path)
                    body = json.dumps({"status": "ok" if health.ok else "unavailable",
                                       **health.detail}, sort_keys=True).encode()
                    self._send(200 if health.ok else 503, "application/json", body)
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes every few seconds would drown the process's own log

        self.process = process
        self._live = live
        self._ready = ready
        # one thread answers every request: a store check reuses that thread's connection
        self.server = HTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name=f"{process}-operations", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def check(self, path: str) -> Health:
        try:
            health = self._live() if path == "/livez" else self._ready()
        except Exception as exc:  # noqa: BLE001 - a failing check means "not ok", not a 500
            health = Health(False, {"error": f"{type(exc).__name__}: {exc}"})
        if path == "/readyz":
            READY.labels(self.process).set(1 if health.ok else 0)
        return health

    def start(self) -> OperationsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_operations(host: str, port: int, *, process: str, live: Callable[[], Health],
                     ready: Callable[[], Health]) -> OperationsServer | None:
    """Start the operations endpoints; a port already taken (a second worker on the same
    host with the default port) is logged and the process goes on without them: metrics
    are not worth a crash loop."""
    try:
        server = OperationsServer(host, port, process=process, live=live, ready=ready)
    except OSError as exc:
        log.warning("operations_endpoints_unavailable", host=host, port=port,
                    error=f"{type(exc).__name__}: {exc}",
                    hint="set another port (0: off) for this process")
        return None
    log.info("operations_endpoints", url=f"http://{host}:{server.port}/metrics")
    return server.start()
