"""Article submission over HTTP: ``POST /v1/articles`` (FastAPI routes).

An item goes through the same decoder and parser as files and the CLI
(:mod:`storyline.ingest.jsontext`, :mod:`storyline.ingest.normalise`), is checked against
the API keys (hashed, :mod:`storyline.web.keys`), acknowledged once per (uri, version,
content) (:class:`storyline.web.limits.RecentArticles`) and written to the articles log with
its provenance (``via="http"`` and the key's id) in the event, ``ArticleReceived.provenance``,
and, for tools that read record headers, in two Kafka record headers as well. A ninjs item
under an embargo that lies after the app's clock (``IngestApp.now``) is answered 422 naming
the embargo's field and time (:mod:`storyline.ingest.embargo`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import structlog
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from storyline.domain.canonical import content_hash
from storyline.domain.events import ArticleReceived
from storyline.ingest.embargo import Embargo, embargo_of, refuse_embargoed, utc_now
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.jsontext import decode_json
from storyline.ingest.normalise import parse_item
from storyline.metrics import SUBMITTED
from storyline.read.config import ReadSettings
from storyline.settings import Settings
from storyline.web.keys import KeyRing
from storyline.web.limits import Landed, RecentArticles

log = structlog.get_logger(__name__)

#: Kafka record headers of an article submitted over HTTP: its provenance again, beside the
#: event, for tools that read headers without decoding (``kcat -f '%h'``). The durable record
#: is ``ArticleReceived.provenance``; neither shapes a revision.
HEADER_VIA = "storyline-via"
HEADER_KEY_ID = "storyline-api-key-id"


class ArticleSink(Protocol):
    async def send(self, article: ArticleReceived,
                   headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]: ...


@dataclass(frozen=True)
class ArticleParser:
    """``parse(obj, fmt=..., max_bytes=...) -> ArticleReceived``, raising ``invalid`` (with
    ``.field`` and ``.message``) for a bad item: storyline.ingest.normalise by default;
    ``embargo(obj, fmt)`` lifts the item's embargo out of it."""

    parse: Callable[..., ArticleReceived]
    invalid: type[Exception]
    embargo: Callable[[Any, str], Embargo | None] = embargo_of


def default_parser() -> ArticleParser:
    return ArticleParser(parse_item, InvalidArticle)


class Accepted(BaseModel):
    uri: str
    topic: str
    partition: int
    offset: int
    duplicate: bool = False


@dataclass
class IngestApp:
    """What the ingest handler needs: settings, keys, the recent-article window, the sink
    (made on first use by ``sink_factory``), the parser and the wall clock embargoes are
    judged by."""

    settings: Settings
    read_settings: ReadSettings
    sink: ArticleSink | None = None
    sink_factory: Callable[[], Awaitable[ArticleSink]] | None = None
    parser: ArticleParser = field(default_factory=lambda: default_parser())
    keys: KeyRing = field(default_factory=lambda: KeyRing([]))
    recent: RecentArticles = field(default_factory=lambda: RecentArticles(0))
    now: Callable[[], dt.datetime] = utc_now


def ingest_state(request: Request) -> IngestApp:
    ingest_app: IngestApp = request.app.state.ingest
    return ingest_app


async def default_sink_factory(settings: Settings) -> ArticleSink:
    """The Kafka producer of the ingest package, started on first use."""
    from storyline.ingest.producer import ArticleProducer

    producer = ArticleProducer(settings)
    await producer.start()
    return producer


def _error(status: int, field: str, message: str,
           problems: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "field": field}
    if problems is not None and len(problems) > 1:
        body["problems"] = problems  # every problem of the item, the first leading
    return JSONResponse(body, status_code=status)


def add_ingest_routes(app: FastAPI) -> None:
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
        see docs/operations.md). A ninjs item whose ``embargoed`` / ``embargoedUntil`` lies
        in the future is refused, 422 naming the time to send it again. Rate limited per
        key and per client: 429 with Retry-After."""
        read = ingest_state(request)
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
        try:
            obj = decode_json(b"".join(chunks))
        except InvalidArticle as exc:
            SUBMITTED.labels(key_id, "invalid").inc()
            return _error(400, "body", f"body: {exc.message}")
        try:
            parsed = read.parser.parse(obj, fmt=format,
                                       max_bytes=read.settings.max_article_bytes)
        except read.parser.invalid as exc:
            bad_field = getattr(exc, "field", None) or "body"
            message = getattr(exc, "message", None) or str(exc)
            problems = [{"field": str(f), "error": str(m)}
                        for f, m in getattr(exc, "problems", ())]
            SUBMITTED.labels(key_id, "invalid").inc()
            return _error(422, str(bad_field), str(message), problems)
        try:
            refuse_embargoed(read.parser.embargo(obj, format), parsed, read.now())
        except InvalidArticle as exc:  # under embargo now, or an embargo that is no time
            SUBMITTED.labels(key_id, "embargoed").inc()
            return _error(422, exc.field, exc.message)
        if read.sink is None and read.sink_factory is None:
            return _error(503, "body", "no article producer configured")
        # a retry is the same uri, version and content, whoever sends it: judged on the
        # article without its provenance (the first one's is what the log keeps)
        identity = content_hash(parsed.without_provenance())
        article = parsed.received("http", key_id)
        provenance = [(HEADER_VIA, b"http"), (HEADER_KEY_ID, key_id.encode())]

        async def write() -> Landed:
            if read.sink is None:
                assert read.sink_factory is not None
                read.sink = await read.sink_factory()
            partition, offset = await read.sink.send(article, provenance)
            return Landed(partition, offset)

        try:
            landed, wrote = await read.recent.once(
                article.uri, article.version, identity, write)
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
