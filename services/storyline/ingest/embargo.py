"""ninjs embargoes, decided where an item arrives: ``POST /v1/articles`` and
``storyline ingest``, each with its own clock.

ninjs ``embargoed`` (1.x, 2.x) / ``embargoedUntil`` (3.x) is "the date and time before which
all versions of the news object are embargoed". The parsers only lift the value out of the
item (:func:`embargo_of`, pure); an edge that is about to publish asks
:func:`refuse_embargoed` with its clock's time and refuses the item until then. Nothing of
the embargo goes into the event and the core never reads a clock: a revision stays a pure
function of the log, and an item already on the log (replay, the worker) is never checked
again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from storyline.domain.events import ArticleReceived, PubStatus
from storyline.ingest.fields import InvalidArticle, read_datetime
from storyline.ingest.ninjs import generation
from storyline.ingest.normalise import ItemFormat, detect_format

# the generation's own spelling first; the schemas of 2.x and 3.x refuse the other one
_KEYS = {3: ("embargoedUntil", "embargoed")}
_DEFAULT_KEYS = ("embargoed", "embargoedUntil")


@dataclass(frozen=True, slots=True)
class Embargo:
    """An item's embargo as written: the field (``embargoed`` or ``embargoedUntil``) and
    its value, read only when an edge checks it."""

    field: str
    value: Any


def utc_now() -> dt.datetime:
    """The edges' wall clock (tests pass their own)."""
    return dt.datetime.now(dt.UTC)


def embargo_of(obj: Any, fmt: ItemFormat | str = "auto") -> Embargo | None:
    """The embargo field of a ninjs item, None for an item without one or that is not
    ninjs (the flat JSON article has no embargo; an unknown key there is refused)."""
    if not isinstance(obj, dict):
        return None
    chosen = fmt
    if fmt == "auto":
        try:
            chosen = detect_format(obj)
        except InvalidArticle:
            return None
    if chosen != "ninjs":
        return None
    for key in _KEYS.get(generation(obj), _DEFAULT_KEYS):
        if obj.get(key) is not None:
            return Embargo(key, obj[key])
    return None


def refuse_embargoed(embargo: Embargo | None, article: ArticleReceived,
                     now: dt.datetime) -> None:
    """Raise ``InvalidArticle`` at the embargo's field when it lies after ``now`` ("embargoed
    until 2026-12-08T06:00:00Z; send it again then") or is no date-time. An embargo at or
    before ``now``, or none, passes; so does a withdrawal or cancellation, which shows
    nothing (refusing it would keep a killed article on its page)."""
    if embargo is None or article.pubstatus is not PubStatus.USABLE:
        return
    written = read_datetime(embargo.value, embargo.field)
    until = written.replace(tzinfo=dt.UTC) if written.tzinfo is None else written
    try:
        later = until > now
    except OverflowError:  # an offset beyond year 1 or 9999: the year says which side
        later = until.year > now.year
    if later:
        raise InvalidArticle(embargo.field, f"embargoed until {_utc_text(until)}; send it "
                                            "again then")


def _utc_text(moment: dt.datetime) -> str:
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:  # an offset that carries it past year 9999: say it as written
        return moment.isoformat()
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{utc.microsecond:06d}Z" if utc.microsecond else f"{text}Z"
