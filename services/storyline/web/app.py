"""The HTTP server: the read API and pages, article ingestion, health and metrics.

``create_app`` composes the parts, each in its own package (:mod:`storyline.read` never
imports :mod:`storyline.ingest`): a read store, a change notifier and optionally a projector
running in the same process; the ingest route with its keys and sink; /metrics, /livez,
/readyz, /healthz; request metrics and rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from storyline.ingest.embargo import utc_now
from storyline.ingest.http import (
    ArticleParser,
    ArticleSink,
    IngestApp,
    add_ingest_routes,
    default_parser,
    default_sink_factory,
)
from storyline.metrics import READY, Health, generate_latest, publish_readiness
from storyline.read.api import add_read_routes
from storyline.read.config import ReadSettings, get_read_settings
from storyline.read.context import ReadApp, state
from storyline.read.projector import Projector
from storyline.read.sse import ChangeNotifier, poll_store
from storyline.read.store import ReadStore, open_store
from storyline.settings import Settings, get_settings
from storyline.web.limits import RecentArticles
from storyline.web.middleware import HeadAsGet, RateLimits, RequestMetrics

log = structlog.get_logger(__name__)


def create_app(
    store: ReadStore | None = None,
    *,
    settings: Settings | None = None,
    read_settings: ReadSettings | None = None,
    run_projector: bool = False,
    sink: ArticleSink | None = None,
    parser: ArticleParser | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = utc_now,
) -> FastAPI:
    """``clock`` (monotonic seconds) drives the rate limits; ``now`` (an aware UTC datetime)
    is the wall clock ingest judges embargoes by. Tests pass their own."""
    settings = settings or get_settings()
    read_settings = read_settings or get_read_settings()
    keys = read_settings.key_ring()  # a bad entry fails here, at start, not per request
    opened = store or open_store(read_settings.store_target())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier = ChangeNotifier(await asyncio.to_thread(opened.max_seq))

        async def make_sink() -> ArticleSink:
            return await default_sink_factory(settings)

        app.state.read = ReadApp(opened, notifier, settings, read_settings)
        app.state.ingest = IngestApp(settings, read_settings, sink,
                                     None if sink is not None else make_sink,
                                     parser or default_parser(), keys=keys,
                                     recent=RecentArticles(read_settings.idempotency_window),
                                     now=now)
        keys.warn_if_plain()
        tasks: list[asyncio.Task[Any]] = []
        if run_projector:
            projector = Projector(opened, bootstrap=settings.bootstrap_servers,
                                  topic=settings.story_updates,
                                  dead_letters_topic=settings.dead_letters, notifier=notifier)
            app.state.read.projector = projector
            tasks.append(asyncio.create_task(_keep_running(projector), name="projector"))
        else:
            tasks.append(asyncio.create_task(
                poll_store(opened, notifier, read_settings.sse_poll_seconds), name="poll"))
        read_app = app.state.read
        tasks.append(asyncio.create_task(
            publish_readiness("api", lambda: readiness(read_app)), name="readiness"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            current = app.state.ingest.sink
            stop = getattr(current, "stop", None)
            if stop is not None and current is not sink:
                await stop()

    app = FastAPI(
        title="Storyline API",
        version="1",
        summary="Versioned story pages built from wire articles.",
        lifespan=lifespan,
    )
    app.add_middleware(HeadAsGet)
    app.add_middleware(RateLimits, keys=keys, read_settings=read_settings, clock=clock)
    app.add_middleware(RequestMetrics)
    _add_health_routes(app)
    add_read_routes(app)
    add_ingest_routes(app)
    return app


async def _keep_running(projector: Projector) -> None:
    """The API keeps serving what the store has if the broker goes away; retry calmly."""
    while True:
        try:
            await projector.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged, then retried
            log.error("projector.crashed", error=str(exc))
            await asyncio.sleep(2.0)


def readiness(read: ReadApp) -> Health:
    """The API's /readyz (blocking: a store query)."""
    if read.projector is not None:
        return read.projector.readiness(read.settings.ready_max_lag)
    try:
        seq = read.store.max_seq()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return Health(False, {"reasons": [
            f"read store unreachable: {type(exc).__name__}: {exc}"]})
    return Health(True, {"last_event_id": seq, "lag": "measured by the projector process "
                         "(storyline projector /readyz)"})


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/livez", tags=["operations"])
    async def livez() -> dict[str, str]:
        """Liveness: answered by the event loop itself, so a stuck loop fails it."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"],
             responses={503: {"description": "not ready: the reasons are in the body"}})
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the read store answers, and (when the projector runs in this process)
        it is at most STORYLINE_READY_MAX_LAG records behind story-updates. 503 with the
        reasons otherwise."""
        health = await asyncio.to_thread(readiness, state(request))
        READY.labels("api").set(1 if health.ok else 0)
        return JSONResponse({"status": "ok" if health.ok else "unavailable", **health.detail},
                            status_code=200 if health.ok else 503)

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request) -> dict[str, Any]:
        """Liveness plus how far the read model has got: its last event id and, per
        partition of story-updates, the next offset to apply."""
        read = state(request)
        return {"status": "ok", "last_event_id": read.store.max_seq(),
                "positions": {str(p): o for p, o in
                              sorted(read.store.positions(read.settings.story_updates).items())}}


