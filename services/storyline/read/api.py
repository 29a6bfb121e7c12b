"""The HTTP API over the read store (FastAPI): stories, revisions, diffs, SSE, ingestion.

``create_app`` wires a store, a change notifier and optionally a projector running in the
same process; the HTML pages of :mod:`storyline.read.pages` are mounted on the same app.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import structlog
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storyline.domain.canonical import content_hash
from storyline.domain.events import ArticleReceived, RelatedArticle
from storyline.metrics import (
    HTTP_LATENCY,
    HTTP_THROTTLED,
    READY,
    SUBMITTED,
    Health,
    generate_latest,
    method_label,
    publish_readiness,
)
from storyline.read.config import ReadSettings, get_read_settings
from storyline.read.diffing import RevisionDelta, diff_revisions
from storyline.read.keys import KeyRing
from storyline.read.limits import Landed, RateLimiter, RecentArticles, parse_rate, retry_after
from storyline.read.projector import Projector
from storyline.read.sse import (
    ChangeNotifier,
    InvalidLastEventId,
    parse_last_event_id,
    poll_store,
    stream_events,
)
from storyline.read.store import MAX_ID, ReadStore, open_store
from storyline.settings import Settings, get_settings

log = structlog.get_logger(__name__)


#: Kafka record headers of an article submitted over HTTP: its provenance, on the log
#: beside the event (never in it, so nothing of a revision depends on who sent it).
HEADER_VIA = "storyline-via"
HEADER_KEY_ID = "storyline-api-key-id"
#: Paths no rate limit applies to: probes and scrapes must never be throttled.
UNLIMITED_PATHS = frozenset({"/metrics", "/livez", "/readyz", "/healthz"})


class ArticleSink(Protocol):
    async def send(self, article: ArticleReceived,
                   headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]: ...


@dataclass(frozen=True)
class ArticleParser:
    """``parse(obj, fmt=..., max_bytes=...) -> ArticleReceived``, raising ``invalid`` (with
    ``.field`` and ``.message``) for a bad item: storyline.ingest.normalise by default."""

    parse: Callable[..., ArticleReceived]
    invalid: type[Exception]


def default_parser() -> ArticleParser:
    from storyline.ingest.normalise import InvalidArticle, parse_item

    return ArticleParser(parse_item, InvalidArticle)


class StorySummary(BaseModel):
    story_id: str
    revision: int
    title: str
    article_count: int
    independent_count: int
    published_last: str
    url: str


class StoryList(BaseModel):
    stories: list[StorySummary]
    next_cursor: str | None


class RevisionInfo(BaseModel):
    revision: int
    content_hash: str
    reason: str
    article_count: int
    independent_count: int
    title: str
    cause_published: str
    event_id: int


class RevisionList(BaseModel):
    story_id: str
    revisions: list[RevisionInfo]


class ArticleList(BaseModel):
    story_id: str
    revision: int
    articles: list[RelatedArticle]


class Accepted(BaseModel):
    uri: str
    topic: str
    partition: int
    offset: int
    duplicate: bool = False


@dataclass
class ReadApp:
    """What the request handlers share."""

    store: ReadStore
    notifier: ChangeNotifier
    settings: Settings
    read_settings: ReadSettings
    sink: ArticleSink | None = None
    sink_factory: Callable[[], Awaitable[ArticleSink]] | None = None
    parser: ArticleParser = field(default_factory=lambda: default_parser())
    projector: Projector | None = None
    keys: KeyRing = field(default_factory=lambda: KeyRing([]))
    recent: RecentArticles = field(default_factory=lambda: RecentArticles(0))


def state(request: Request) -> ReadApp:
    read_app: ReadApp = request.app.state.read
    return read_app


#: An optional revision number in a query: from 1 to what the store can hold (``MAX_ID``);
#: anything else is answered 422 with the reason, never 500. Every integer a client may
#: send is bounded the same way.
Revision = Annotated[int | None, Query(ge=1, le=MAX_ID)]

_CURSOR = re.compile(r"s[0-9]{1,19}")
LAST_EVENT_ID_DOC = "resume after this event id (the Last-Event-ID header wins)"


def _encode_cursor(seq: int) -> str:
    return f"s{seq}"


def parse_cursor(cursor: str) -> int | None:
    """The seq in a ``next_cursor`` (``s`` and ASCII digits, at most ``MAX_ID``); None for
    anything this API cannot have written."""
    if _CURSOR.fullmatch(cursor) is None:
        return None
    seq = int(cursor[1:])
    return seq if seq <= MAX_ID else None


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    seq = parse_cursor(cursor)
    if seq is None:
        raise HTTPException(400, detail={"field": "cursor", "message": "not a cursor from "
                                          "this API's next_cursor"})
    return seq


def _redirect(request: Request, story_id: str, survivor: str) -> RedirectResponse:
    path = request.url.path.replace(f"/{story_id}", f"/{survivor}", 1)
    query = f"?{request.url.query}" if request.url.query else ""
    response = RedirectResponse(path + query, status_code=308)
    response.headers["X-Resolved-From"] = story_id
    return response


def _not_found(story_id: str, what: str = "story") -> HTTPException:
    return HTTPException(404, detail=f"no {what} {story_id!r}")


async def _default_sink_factory(settings: Settings) -> ArticleSink:
    """The Kafka producer of the ingest package, started on first use."""
    from storyline.ingest.producer import ArticleProducer

    producer = ArticleProducer(settings)
    await producer.start()
    return producer


def create_app(
    store: ReadStore | None = None,
    *,
    settings: Settings | None = None,
    read_settings: ReadSettings | None = None,
    run_projector: bool = False,
    sink: ArticleSink | None = None,
    parser: ArticleParser | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    settings = settings or get_settings()
    read_settings = read_settings or get_read_settings()
    keys = read_settings.key_ring()  # a bad entry fails here, at start, not per request
    opened = store or open_store(read_settings.store_target())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier = ChangeNotifier(await asyncio.to_thread(opened.max_seq))

        async def make_sink() -> ArticleSink:
            return await _default_sink_factory(settings)

        app.state.read = ReadApp(opened, notifier, settings, read_settings, sink,
                                 None if sink is not None else make_sink,
                                 parser or default_parser(), keys=keys,
                                 recent=RecentArticles(read_settings.idempotency_window))
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
            current = app.state.read.sink
            stop = getattr(current, "stop", None)
            if stop is not None and current is not sink:
                await stop()

    app = FastAPI(
        title="Storyline read API",
        version="1",
        summary="Versioned story pages built from wire articles.",
        lifespan=lifespan,
    )
    app.add_middleware(RateLimits, keys=keys, read_settings=read_settings, clock=clock)
    app.add_middleware(RequestMetrics)
    _add_health_route(app)
    _add_story_routes(app)
    _add_event_routes(app)
    _add_ingest_route(app)
    from storyline.read.pages import add_page_routes

    add_page_routes(app)
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


class RateLimits:
    """429 with Retry-After once a client address, or an API key, has used its bucket
    (:mod:`storyline.read.limits`). GET/HEAD and POST have their own rates; a request with
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
            secret = _header(scope, b"x-api-key")
            key_id = self.keys.verify(secret) if by_key is not None and secret else None
            if by_key is not None and key_id is not None:
                key_wait = by_key.take(key_id)
                if key_wait > wait:
                    wait, limit = key_wait, "key"
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        HTTP_THROTTLED.labels(method, limit).inc()
        response = JSONResponse(
            {"error": f"rate limit of this {'API key' if limit == 'key' else 'client'} "
             f"exceeded; retry after {retry_after(wait)} s", "field": limit,
             "retry_after": retry_after(wait)},
            status_code=429, headers={"Retry-After": retry_after(wait)})
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _add_health_route(app: FastAPI) -> None:
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


def _add_story_routes(app: FastAPI) -> None:
    @app.get("/v1/stories", response_model=StoryList, tags=["stories"])
    def list_stories(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")]
        = None,
        q: Annotated[str | None, Query(max_length=200, description="words in title or summary")]
        = None,
        name: Annotated[str | None, Query(max_length=200,
                                          description="a name mentioned on the page")] = None,
    ) -> StoryList:
        """Stories, most recently updated first; absorbed (merged) stories are left out."""
        rows = state(request).store.list_stories(limit=limit, before_seq=_decode_cursor(cursor),
                                                 q=q, name=name)
        return StoryList(
            stories=[StorySummary(story_id=r.story_id, revision=r.revision, title=r.title,
                                  article_count=r.article_count,
                                  independent_count=r.independent_count,
                                  published_last=r.published_last,
                                  url=f"/v1/stories/{r.story_id}") for r in rows],
            next_cursor=_encode_cursor(rows[-1].seq) if len(rows) == limit else None,
        )

    @app.get("/v1/stories/{story_id}", tags=["stories"],
             responses={200: {"description": "the StoryUpdated of the revision (JSON)"},
                        308: {"description": "the id was merged into another story"}})
    def get_story(
        request: Request,
        story_id: str,
        revision: Revision = None,
        as_of: Annotated[dt.datetime | None, Query(
            description="latest revision whose cause was published at or before this time")]
        = None,
    ) -> Response:
        """The whole page. An id merged into another story redirects (308) to the survivor
        unless a past ``revision`` of the absorbed story itself is asked for."""
        store = state(request).store
        if revision is None:
            survivor = store.resolve(story_id)
            if survivor is not None:
                return _redirect(request, story_id, survivor)
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=dt.UTC)
        body = store.get_body(story_id, revision=revision, as_of=as_of)
        if body is None:
            if revision is not None and store.head_revision(story_id) is not None:
                raise _not_found(f"{story_id} revision {revision}", "revision of story")
            if as_of is not None and store.head_revision(story_id) is not None:
                raise HTTPException(404, detail=f"story {story_id!r} has no revision caused by "
                                    f"an article published at or before {as_of.isoformat()}")
            raise _not_found(story_id)
        return Response(body, media_type="application/json")

    @app.get("/v1/stories/{story_id}/revisions", response_model=RevisionList, tags=["stories"])
    def list_revisions(request: Request, story_id: str,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                       before: Revision = None,
                       ) -> RevisionList | Response:
        """The history, newest first."""
        store = state(request).store
        rows = store.revisions(story_id, limit=limit, before_revision=before)
        if not rows:
            survivor = store.resolve(story_id)
            if survivor is not None:
                return _redirect(request, story_id, survivor)
            raise _not_found(story_id)
        return RevisionList(story_id=story_id, revisions=[
            RevisionInfo(revision=r.revision, content_hash=r.content_hash, reason=r.reason,
                         article_count=r.article_count, independent_count=r.independent_count,
                         title=r.title, cause_published=r.cause_published, event_id=r.seq)
            for r in rows])

    @app.get("/v1/stories/{story_id}/diff", response_model=RevisionDelta, tags=["stories"])
    def diff(request: Request, story_id: str,
             from_: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
             to: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                             description="default: the newest")] = None,
             ) -> RevisionDelta | Response:
        """What changed from revision ``from`` to revision ``to``."""
        store = state(request).store
        before = store.get_page(story_id, revision=from_)
        if before is None:
            survivor = store.resolve(story_id)
            if survivor is not None and store.head_revision(story_id) is None:
                return _redirect(request, story_id, survivor)
            raise _not_found(f"{story_id} revision {from_}", "revision of story")
        after = store.get_page(story_id, revision=to)
        if after is None:
            raise _not_found(f"{story_id} revision {to}", "revision of story")
        return diff_revisions(before, after)

    @app.get("/v1/stories/{story_id}/articles", response_model=ArticleList, tags=["stories"])
    def articles(request: Request, story_id: str,
                 revision: Revision = None) -> ArticleList | Response:
        """The numbered article list: ``n`` is the citation number used on the page."""
        store = state(request).store
        if revision is None:
            survivor = store.resolve(story_id)
            if survivor is not None:
                return _redirect(request, story_id, survivor)
        update = store.get_page(story_id, revision=revision)
        if update is None:
            raise _not_found(story_id)
        return ArticleList(story_id=update.story_id, revision=update.revision,
                           articles=list(update.articles))


def _add_event_routes(app: FastAPI) -> None:
    async def _stream(request: Request, last_event_id: str | None, query_id: int | None,
                      story_ids: list[str]) -> StreamingResponse:
        read = state(request)
        try:
            after = parse_last_event_id(last_event_id)
        except InvalidLastEventId as exc:
            raise HTTPException(400, detail={"field": "Last-Event-ID",
                                             "message": str(exc)}) from exc
        field_name = "Last-Event-ID" if after is not None else "last_event_id"
        if after is None:
            after = query_id
        if after is not None:
            newest = await asyncio.to_thread(read.store.max_seq)
            if after > newest:
                raise HTTPException(400, detail={"field": field_name, "message": (
                    f"event id {after} was never sent: the newest event is {newest} (was the "
                    "read store rebuilt?); reconnect without it to follow from now, or with "
                    "last_event_id=0 to replay everything")})
        else:
            after = read.notifier.seq
        return StreamingResponse(
            stream_events(read.store, read.notifier, after=after, story_ids=story_ids,
                          heartbeat=read.read_settings.sse_heartbeat_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/events", tags=["events"], response_class=StreamingResponse,
             responses={400: {"description": "a Last-Event-ID this feed cannot have sent"}})
    async def all_events(
        request: Request,
        last_event_id: Annotated[str | None, Header()] = None,
        last_event_id_query: Annotated[int | None, Query(
            alias="last_event_id", ge=0, le=MAX_ID, description=LAST_EVENT_ID_DOC)] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: `StoryUpdated` (the whole page), `StoryMerged` and
        `StorySplit`, with the read model's sequence number as the event id.

        Reconnect with `Last-Event-ID` (or `?last_event_id=`) to resume after that event;
        without either the stream starts with the events after the connection, and
        `last_event_id=0` replays everything.

        An id this feed cannot have sent is answered **400** (JSON, `detail.field` names the
        header or parameter, `detail.message` says why) instead of a stream: an id that is
        not a decimal integer from 0 to 2**63-1, or one greater than the newest event id
        (e.g. kept across a rebuild of the read store). A browser's EventSource takes a
        non-200 answer as final and stops reconnecting, so a bad id never becomes a
        reconnect loop; open a new stream without the id to follow from now.
        """
        return await _stream(request, last_event_id, last_event_id_query, [])

    @app.get("/v1/stories/{story_id}/events", tags=["events"],
             response_class=StreamingResponse,
             responses={400: {"description": "a Last-Event-ID this feed cannot have sent"}})
    async def story_events(
        request: Request,
        story_id: str,
        last_event_id: Annotated[str | None, Header()] = None,
        last_event_id_query: Annotated[int | None, Query(
            alias="last_event_id", ge=0, le=MAX_ID, description=LAST_EVENT_ID_DOC)] = None,
    ) -> StreamingResponse:
        """The events of one story and of the stories merged into it, as `/v1/events`
        sends them (same event ids, same resume rules).

        An id this feed cannot have sent (not a decimal integer from 0 to 2**63-1, or
        greater than the newest event id of the whole feed) is answered **400** with a JSON
        reason instead of a stream, so EventSource stops rather than reconnecting for ever.
        """
        store = state(request).store
        target = await asyncio.to_thread(store.resolve, story_id) or story_id
        ids = [target, *await asyncio.to_thread(store.aliases_of, target)]
        return await _stream(request, last_event_id, last_event_id_query, sorted(set(ids)))


def _error(status: int, field: str, message: str,
           problems: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "field": field}
    if problems is not None and len(problems) > 1:
        body["problems"] = problems  # every problem of the item, the first leading
    return JSONResponse(body, status_code=status)


def _add_ingest_route(app: FastAPI) -> None:
    @app.post("/v1/articles", status_code=202, response_model=Accepted, tags=["ingest"],
              responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {
                      "type": "object",
                      "description": "one article: a ninjs 2.x item or Storyline's flat "
                                     "JSON article (see ?format=)"}}}}})
    async def post_article(
        request: Request,
        format: Annotated[Literal["auto", "ninjs", "json"], Query(
            description="ninjs 2.x item, Storyline's flat JSON article, or auto-detect")]
        = "auto",
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Submit one wire article (for ingestors). Needs an ``X-API-Key`` from
        STORYLINE_API_KEYS; answers 202 with where the article landed on the log. The same
        uri and version with the same content again (a retry) is answered 202 with the
        first one's position and ``duplicate: true``, and not written twice (best-effort:
        see docs/operations.md). Rate limited per key and per client: 429 with
        Retry-After."""
        read = state(request)
        if not read.keys:
            return _error(503, "X-API-Key", "article submission is disabled: set "
                          "STORYLINE_API_KEYS (comma separated) to enable it")
        if x_api_key is None:
            return _error(401, "X-API-Key", "missing X-API-Key header")
        key_id = read.keys.verify(x_api_key)
        if key_id is None:
            return _error(401, "X-API-Key", "unknown API key")
        limit = read.read_settings.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            SUBMITTED.labels(key_id, "too_large").inc()
            return _error(413, "body", f"body of {declared} bytes exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                SUBMITTED.labels(key_id, "too_large").inc()
                return _error(413, "body", f"body exceeds {limit} bytes")
            chunks.append(chunk)
        from storyline.ingest.fields import InvalidArticle
        from storyline.ingest.jsontext import decode_json

        try:
            obj = decode_json(b"".join(chunks))
        except InvalidArticle as exc:
            SUBMITTED.labels(key_id, "invalid").inc()
            return _error(400, "body", f"body: {exc.message}")
        try:
            article = read.parser.parse(obj, fmt=format,
                                        max_bytes=read.settings.max_article_bytes)
        except read.parser.invalid as exc:
            bad_field = getattr(exc, "field", None) or "body"
            message = getattr(exc, "message", None) or str(exc)
            SUBMITTED.labels(key_id, "invalid").inc()
            problems = [{"field": str(f), "error": str(m)}
                        for f, m in getattr(exc, "problems", ())]
            return _error(422, str(bad_field), str(message), problems)
        if read.sink is None and read.sink_factory is None:
            return _error(503, "body", "no article producer configured")
        provenance = [(HEADER_VIA, b"http"), (HEADER_KEY_ID, key_id.encode())]

        async def write() -> Landed:
            if read.sink is None:
                assert read.sink_factory is not None
                read.sink = await read.sink_factory()
            partition, offset = await read.sink.send(article, provenance)
            return Landed(partition, offset)

        try:
            landed, wrote = await read.recent.once(
                article.uri, article.version, content_hash(article), write)
        except Exception as exc:  # noqa: BLE001 - the client must learn it was not taken
            SUBMITTED.labels(key_id, "failed").inc()
            log.error("api.produce_failed", uri=article.uri, error=str(exc))
            return _error(503, "body", "the article log is not reachable; retry later")
        SUBMITTED.labels(key_id, "accepted" if wrote else "duplicate").inc()
        if not wrote:
            log.info("api.duplicate_acknowledged", uri=article.uri, version=article.version,
                     key_id=key_id)
        return JSONResponse(Accepted(uri=article.uri, topic=read.settings.articles,
                                     partition=landed.partition, offset=landed.offset,
                                     duplicate=not wrote).model_dump(),
                            status_code=202)
