"""HTML pages: the story index, a story page like the reference, and its history.

Everything on a page comes from wire articles, i.e. from strangers: Jinja2 autoescaping is
on for every template, links to articles are emitted only for http(s) addresses (an entry's
``url``, else its uri; pages written before ``url`` existed have only the uri), and a strict
Content-Security-Policy forbids scripts, inline styles and foreign resources outright, so
even an escaping mistake could not run code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from storyline.domain.events import Citation, StoryPage, web_address
from storyline.read.context import (
    MAX_CURSOR_CHARS,
    Revision,
    encode_cursor,
    parse_cursor,
    state,
)
from storyline.read.diffing import RevisionDelta, diff_revisions
from storyline.read.render import (
    around_marks,
    articles_heading,
    citation_numbers,
    counts_line,
    day_label,
)
from storyline.read.store import RevisionRow

HERE = Path(__file__).parent
HISTORY_PAGE = 30

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def safe_href(address: str | None) -> str | None:
    """Only web links become links: a ``javascript:`` or ``data:`` uri stays text (the fold
    keeps only web addresses in ``url``; this checks again whatever the page says)."""
    return web_address(address)


def cited(text: str, citations: Sequence[Citation]) -> Markup:
    """A sentence with its citation links, put as the text views and the reference page put
    its marks: before the closing full stop ("... reconnaissance [1].")."""
    numbers = citation_numbers(citations)
    if not numbers:
        return escape(text)
    links = Markup("").join(Markup('<a class="cite" href="#a{0}">[{0}]</a>').format(n)
                            for n in numbers)
    before, after = around_marks(text)
    return escape(before) + Markup(" ") + links + escape(after)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(cited=cited, href=safe_href, day=day_label)
    return env


ENV = make_environment()


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def story_html(update: StoryPage, head_revision: int) -> str:
    """The story page of revision ``update`` (``head_revision``: the story's latest)."""
    return ENV.get_template("story.html").render(
        u=update, counts=counts_line(update), articles_heading=articles_heading(update),
        is_head=update.revision == head_revision, head_revision=head_revision,
        inferred=any(not e.date_stated for e in update.timeline),
        planned=any(e.planned for e in update.timeline))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=308, headers=SECURITY_HEADERS)


def add_page_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # Starlette's class, not FastAPI's subclass: the router raises Starlette's own for an
    # unknown path or method, and those pages must be pages too
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/v1/") or request.url.path.startswith("/static/"):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        error = ("Not found" if exc.status_code == 404
                 else f"Error {exc.status_code}: {exc.detail}")
        response = page("base.html", status=exc.status_code, error=error)
        response.headers.update(exc.headers or {})  # e.g. the Allow of a 405
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/v1/"):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ())[1:]) or 'request'}: "
            f"{error.get('msg', 'invalid')}" for error in exc.errors())
        return page("base.html", status=422, error=f"Error 422: {problems}")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
              cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None) -> Response:
        limit = 50
        after = parse_cursor(cursor) if cursor else None
        if cursor and after is None:
            raise HTTPException(400, detail="not a cursor from a Next link")
        rows = state(request).store.list_stories(limit=limit, after=after, q=q)
        next_cursor = encode_cursor(rows[-1].key) if len(rows) == limit else None
        return page("index.html", stories=rows, q=q, next_cursor=next_cursor)

    @app.get("/stories/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def story(request: Request, story_id: str,
              revision: Revision = None) -> Response:
        store = state(request).store
        if revision is None and (survivor := store.resolve(story_id)) is not None:
            return _redirect(f"/stories/{survivor}")
        update = store.get_page(story_id, revision=revision)
        head = store.head_revision(story_id)
        if update is None or head is None:
            raise HTTPException(404)
        return HTMLResponse(story_html(update, head), headers=SECURITY_HEADERS)

    @app.get("/stories/{story_id}/history", response_class=HTMLResponse,
             include_in_schema=False)
    def history(request: Request, story_id: str,
                before: Revision = None) -> Response:
        store = state(request).store
        head = store.revisions(story_id, limit=1)
        if not head:
            if (survivor := store.resolve(story_id)) is not None:
                return _redirect(f"/stories/{survivor}/history")
            raise HTTPException(404)
        rows = store.revisions(story_id, limit=HISTORY_PAGE + 1, before_revision=before)
        shown = rows[:HISTORY_PAGE]
        items = [{"row": row, "delta": _delta(store, story_id, row)} for row in shown]
        older = shown[-1].revision if len(rows) > HISTORY_PAGE else None
        # the story's title now, whichever page of its history this is
        return page("history.html", story_id=story_id, title=head[0].title, items=items,
                    older=older)


def _delta(store: Any, story_id: str, row: RevisionRow) -> RevisionDelta | None:
    if row.revision == 1:
        return None
    before = store.get_page(story_id, revision=row.revision - 1)
    after = store.get_page(story_id, revision=row.revision)
    if before is None or after is None:
        return None
    return diff_revisions(before, after)
