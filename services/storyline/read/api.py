"""The JSON read API over the read store (FastAPI routes): stories, revisions, diffs, SSE.

:func:`add_read_routes` mounts these and the HTML pages of :mod:`storyline.read.pages`; the
server that serves them (with ingestion, health and limits) is :mod:`storyline.web.app`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import structlog
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from storyline.domain.events import RelatedArticle
from storyline.read.context import (
    LAST_EVENT_ID_DOC,
    Revision,
    decode_cursor,
    encode_cursor,
    state,
)
from storyline.read.diffing import RevisionDelta, diff_revisions
from storyline.read.pages import add_page_routes
from storyline.read.sse import (
    MAX_EVENT_ID_CHARS,
    InvalidLastEventId,
    parse_last_event_id,
    stream_events,
)
from storyline.read.store import MAX_ID

log = structlog.get_logger(__name__)


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
    next_before: int | None = Field(
        default=None, description="`before` for the next (older) page; null on the last")


class ArticleList(BaseModel):
    story_id: str
    revision: int
    articles: list[RelatedArticle]


def _redirect(request: Request, story_id: str, survivor: str) -> RedirectResponse:
    path = request.url.path.replace(f"/{story_id}", f"/{survivor}", 1)
    query = f"?{request.url.query}" if request.url.query else ""
    response = RedirectResponse(path + query, status_code=308)
    response.headers["X-Resolved-From"] = story_id
    return response


def _not_found(story_id: str) -> HTTPException:
    return HTTPException(404, detail=f"no story {story_id!r}")


def _no_revision(story_id: str, revision: int | None) -> HTTPException:
    return HTTPException(404, detail=f"story {story_id!r} has no revision {revision}")


def add_read_routes(app: FastAPI) -> None:
    """The JSON read API, its SSE streams and the HTML pages."""
    _add_story_routes(app)
    _add_event_routes(app)
    add_page_routes(app)


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
        """Stories by their latest article, newest first (then by id, the same order on every
        replica of the API, so `next_cursor` pages on at any); absorbed (merged) stories are
        left out."""
        rows = state(request).store.list_stories(limit=limit, after=decode_cursor(cursor),
                                                 q=q, name=name)
        return StoryList(
            stories=[StorySummary(story_id=r.story_id, revision=r.revision, title=r.title,
                                  article_count=r.article_count,
                                  independent_count=r.independent_count,
                                  published_last=r.published_last,
                                  url=f"/v1/stories/{r.story_id}") for r in rows],
            next_cursor=encode_cursor(rows[-1].key) if len(rows) == limit else None,
        )

    @app.get("/v1/stories/{story_id}", tags=["stories"],
             responses={200: {"description": "the StoryPage of the revision (JSON)"},
                        308: {"description": "the id was merged into another story"}})
    def get_story(
        request: Request,
        story_id: str,
        revision: Revision = None,
        as_of: Annotated[dt.datetime | None, Query(
            description="the page as it stood at this time: the latest revision before the "
            "first caused by an article published after it")]
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
                raise _no_revision(story_id, revision)
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
        """The history, newest first, ``limit`` at a time: ``next_before`` pages on (an
        empty list past the first revision)."""
        store = state(request).store
        rows = store.revisions(story_id, limit=limit, before_revision=before)
        if not rows and store.head_revision(story_id) is None:
            survivor = store.resolve(story_id)
            if survivor is not None:
                return _redirect(request, story_id, survivor)
            raise _not_found(story_id)
        more = len(rows) == limit and rows[-1].revision > 1
        return RevisionList(story_id=story_id, next_before=rows[-1].revision if more else None,
                            revisions=[
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
            if store.head_revision(story_id) is None:
                survivor = store.resolve(story_id)
                if survivor is not None:
                    return _redirect(request, story_id, survivor)
                raise _not_found(story_id)
            raise _no_revision(story_id, from_)
        after = store.get_page(story_id, revision=to)
        if after is None:
            raise _no_revision(story_id, to)
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
            if revision is not None and store.head_revision(story_id) is not None:
                raise _no_revision(story_id, revision)
            raise _not_found(story_id)
        return ArticleList(story_id=update.story_id, revision=update.revision,
                           articles=list(update.articles))


def _add_event_routes(app: FastAPI) -> None:
    async def _stream(request: Request, last_event_id: str | None, query_id: str | None,
                      story: str | None) -> StreamingResponse:
        read = state(request)
        field_name = "Last-Event-ID"
        try:
            after = parse_last_event_id(last_event_id)
            if after is None:
                field_name = "last_event_id"
                after = parse_last_event_id(query_id)
        except InvalidLastEventId as exc:
            raise HTTPException(400, detail={"field": field_name,
                                             "message": str(exc)}) from exc
        if isinstance(after, int):  # a row of this store (the ids sent before positions)
            newest = await asyncio.to_thread(read.store.max_seq)
            if after > newest:
                raise HTTPException(400, detail={"field": field_name, "message": (
                    f"event id {after} was never sent: the newest event is {newest} (was the "
                    "read store rebuilt?); reconnect without it to follow from now, or with "
                    "last_event_id=0 to replay everything")})
        # positions past what this store has applied are fine: another replica sent them,
        # and the stream sends what comes after them once this one has it
        return StreamingResponse(
            stream_events(read.store, read.notifier, after=after, story=story,
                          heartbeat=read.read_settings.sse_heartbeat_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/events", tags=["events"], response_class=StreamingResponse,
             responses={400: {"description": "a Last-Event-ID this feed cannot have sent"}})
    async def all_events(
        request: Request,
        last_event_id: Annotated[str | None, Header()] = None,
        last_event_id_query: Annotated[str | None, Query(
            alias="last_event_id", max_length=MAX_EVENT_ID_CHARS, description=LAST_EVENT_ID_DOC)
        ] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: `StoryUpdated` (the whole page) and `StoryMerged`. The event
        id names the story-updates records sent so far (`partition:next offset`, comma
        separated), so any replica of the API resumes it.

        Reconnect with `Last-Event-ID` (or `?last_event_id=`) to resume after that event;
        without either the stream starts with the events after the connection, and
        `last_event_id=0` replays everything.

        An id this feed cannot have sent is answered **400** (JSON, `detail.field` names the
        header or parameter, `detail.message` says why) instead of a stream: an id that is
        not of that form (nor a decimal integer from 0 to 2**63-1: the ids sent before, rows
        of one store), or such an integer greater than the newest row (e.g. kept across a
        rebuild of the read store). A browser's EventSource takes a
        non-200 answer as final and stops reconnecting, so a bad id never becomes a
        reconnect loop; open a new stream without the id to follow from now.
        """
        return await _stream(request, last_event_id, last_event_id_query, None)

    @app.get("/v1/stories/{story_id}/events", tags=["events"],
             response_class=StreamingResponse,
             responses={400: {"description": "a Last-Event-ID this feed cannot have sent"},
                        404: {"description": "no story of that id"}})
    async def story_events(
        request: Request,
        story_id: str,
        last_event_id: Annotated[str | None, Header()] = None,
        last_event_id_query: Annotated[str | None, Query(
            alias="last_event_id", max_length=MAX_EVENT_ID_CHARS, description=LAST_EVENT_ID_DOC)
        ] = None,
    ) -> StreamingResponse:
        """The events of one story and of the stories merged into it, as `/v1/events`
        sends them (same event ids, same resume rules). A story merged into another while
        followed goes on as the survivor: its `StoryMerged`, then the survivor's events.
        An id with no story is answered **404**.

        An id this feed cannot have sent (see `/v1/events`) is answered **400** with a JSON
        reason instead of a stream, so EventSource stops rather than reconnecting for ever.
        """
        store = state(request).store
        target = await asyncio.to_thread(store.resolve, story_id) or story_id
        if await asyncio.to_thread(store.head_revision, target) is None:
            raise _not_found(story_id)  # a stream of no story would be heartbeats for ever
        return await _stream(request, last_event_id, last_event_id_query, story_id)


