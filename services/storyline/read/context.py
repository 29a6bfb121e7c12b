"""What the read routes (JSON API and HTML pages) share: the app's read state, and the
bounded query values and cursors every route parses the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query, Request

from storyline.read.config import ReadSettings
from storyline.read.projector import Projector
from storyline.read.sse import ChangeNotifier
from storyline.read.store import MAX_ID, ReadStore
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

_CURSOR = re.compile(r"s[0-9]{1,19}")
LAST_EVENT_ID_DOC = ("resume after this event id (the Last-Event-ID header wins); 0 replays "
                     "everything")


def encode_cursor(seq: int) -> str:
    return f"s{seq}"


def parse_cursor(cursor: str) -> int | None:
    """The seq in a ``next_cursor`` (``s`` and ASCII digits, at most ``MAX_ID``); None for
    anything this API cannot have written."""
    if _CURSOR.fullmatch(cursor) is None:
        return None
    seq = int(cursor[1:])
    return seq if seq <= MAX_ID else None


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    seq = parse_cursor(cursor)
    if seq is None:
        raise HTTPException(400, detail={"field": "cursor", "message": "not a cursor from "
                                          "this API's next_cursor"})
    return seq


