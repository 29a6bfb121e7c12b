"""What the read routes (JSON API and HTML pages) share: the app's read state, and the
bounded query values and cursors every route parses the same way."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query, Request

from storyline.read.config import ReadSettings
from storyline.read.projector import Projector
from storyline.read.sse import ChangeNotifier
from storyline.read.store import MAX_ID, ReadStore, StoryKey
from storyline.settings import Settings


@dataclass
class ReadApp:
    """What the read handlers share."""

    store: ReadStore
    notifier: ChangeNotifier
    settings: Settings
    read_settings: ReadSettings
    projector: Projector | None = None


def state(request: Request) -> ReadApp:
    read_app: ReadApp = request.app.state.read
    return read_app


#: An optional revision number in a query: from 1 to what the store can hold (``MAX_ID``);
#: anything else is answered 422 with the reason, never 500. Every integer a client may
#: send is bounded the same way.
Revision = Annotated[int | None, Query(ge=1, le=MAX_ID)]

#: The longest cursor this API writes: ``c`` and the base64url of the key (latest article
#: time, story id), up to ~1 kB of key, far more than any story has.
MAX_CURSOR_CHARS = 1401
_CURSOR = re.compile(rf"c[A-Za-z0-9_-]{{1,{MAX_CURSOR_CHARS - 1}}}")
LAST_EVENT_ID_DOC = ("resume after this event id (the Last-Event-ID header wins); 0 replays "
                     "everything")


def encode_cursor(key: StoryKey) -> str:
    """A listing's ``next_cursor``: the last key of the page, opaque (base64url)."""
    raw = f"{key[0]}\n{key[1]}".encode()
    return "c" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(cursor: str) -> StoryKey | None:
    """The key in a ``next_cursor``; None for anything this API cannot have written
    (cursors of before session 26, ``s`` and a row number of one store, included)."""
    if _CURSOR.fullmatch(cursor) is None:
        return None
    body = cursor[1:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    published, newline, story_id = text.partition("\n")
    if not newline or not published or not story_id or "\n" in story_id:
        return None
    return published, story_id


def decode_cursor(cursor: str | None) -> StoryKey | None:
    if cursor is None or cursor == "":
        return None
    key = parse_cursor(cursor)
    if key is None:
        raise HTTPException(400, detail={"field": "cursor", "message": "not a cursor from "
                                          "this API's next_cursor"})
    return key


