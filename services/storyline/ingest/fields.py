"""Shared pieces of every wire-format parser: the error type and the field normalisers.

Every check raises :class:`InvalidArticle` naming the field as a JSON path of the *input*
(``bodies[0].value``, ``firstcreated``), so a producer of bad data can find the spot.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from storyline.domain.events import ArticleReceived, publication_time

ROOT = "$"
"""Field name for errors about the item as a whole (size, not an object, unknown format)."""

_QUOTE_LIMIT = 80
_T = TypeVar("_T")


class InvalidArticle(Exception):
    """An item that cannot become an ``ArticleReceived``.

    ``field`` is a JSON path into the input (``$`` for the whole item), ``message`` says what
    is wrong in words; ``source`` and ``line`` locate the item once a file reader knows them.
    ``problems`` lists every (field, message) found in the item, the first being ``field``
    and ``message``: a producer fixes them all in one go instead of one per attempt.
    """

    def __init__(self, field: str, message: str, *, source: str | None = None,
                 line: int | None = None, unit: str = "line",
                 problems: tuple[tuple[str, str], ...] = ()) -> None:
        self.field = field
        self.message = message
        self.source = source
        self.line = line
        self.unit = unit
        self.problems = problems or ((field, message),)
        super().__init__(self.describe())

    @classmethod
    def of(cls, found: Iterable[InvalidArticle]) -> InvalidArticle:
        """One error naming every problem of ``found`` (in order, each once)."""
        problems = tuple(dict.fromkeys(p for error in found for p in error.problems))
        if not problems:
            raise ValueError("no problems to report")
        field, message = problems[0]
        return cls(field, message, problems=problems)

    def located(self, source: str | None, line: int | None,
                unit: str = "line") -> InvalidArticle:
        """A copy that knows which file and line (or feed item: ``unit="item"``) it is."""
        return InvalidArticle(self.field, self.message, source=source, line=line, unit=unit,
                              problems=self.problems)

    def describe(self) -> str:
        position = f"{self.unit} {self.line}" if self.line else None
        where = " ".join(p for p in (self.source, position) if p)
        parts = [_problem(f, m) for f, m in self.problems]
        what = parts[0] if len(parts) == 1 else f"{len(parts)} problems: " + "; ".join(parts)
        return f"{where}: {what}" if where else what

    def __str__(self) -> str:
        return self.describe()


def _problem(field: str, message: str) -> str:
    return message if field == ROOT else f"field '{field}': {message}"


class Problems:
    """Collects the problems of one item while its fields are read, so all are reported
    together: ``value = problems.check(parse, ...)`` gives None for a field in error."""

    def __init__(self) -> None:
        self.found: list[InvalidArticle] = []

    def check(self, read: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        try:
            return read(*args, **kwargs)
        except InvalidArticle as exc:
            self.found.append(exc)
            return None

    def add(self, field: str, message: str) -> None:
        self.found.append(InvalidArticle(field, message))

    def raise_any(self) -> None:
        if self.found:
            raise InvalidArticle.of(self.found)


def quote(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:@-]*")


def join_path(base: str, *parts: str | int) -> str:
    """``bodies[0].value``; keys that are not plain names are quoted: ``["a b"]``."""
    path = "" if base == ROOT else base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _NAME.fullmatch(part):
            path = f"{path}.{part}" if path else part
        else:
            path += f"[{json.dumps(part)}]"
    return path or ROOT


def clean_line(text: str) -> str:
    """One line: whitespace runs (including non-breaking spaces) become one space; in
    Unicode NFC, so the same words typed decomposed ("u" + combining diaeresis) are the same
    text, uri and fingerprint as precomposed ones (not a conflicting version)."""
    return unicodedata.normalize("NFC", " ".join(text.split()))


def clean_body(text: str) -> str:
    """Plain text with one paragraph or sentence a line, blank lines dropped."""
    lines = (clean_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def text_field(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               max_length: int | None = None) -> str | None:
    """A string field, stripped; empty counts as absent."""
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidArticle(path, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidArticle(path, f"must be a string, got {type(value).__name__} "
                                   f"{quote(value)}")
    cleaned = clean_line(value)
    if not cleaned:
        if required:
            raise InvalidArticle(path, "is empty")
        return None
    if max_length is not None and len(cleaned) > max_length:
        raise InvalidArticle(path, f"is {len(cleaned)} characters long, the limit is "
                                   f"{max_length}")
    return cleaned


_LEAP_SECOND = re.compile(r"(?<=[T ]\d{2}:\d{2}):60(?:[.,]\d+)?")


def parse_datetime(value: Any, path: str) -> dt.datetime:
    """ISO 8601 / RFC 3339 date-time (or a bare date) as an aware UTC datetime.

    A time without a UTC offset is taken as UTC: wire systems that omit it almost always
    mean UTC, and rejecting them would lose the article.
    """
    return publication_time_at(read_datetime(value, path), path)


def read_datetime(value: Any, path: str) -> dt.datetime:
    """ISO 8601 / RFC 3339 date-time (or a bare date) as written: naive without an offset,
    any year (:func:`parse_datetime` bounds a publication time)."""
    if not isinstance(value, str):
        raise InvalidArticle(path, f"must be an ISO 8601 date-time string, got "
                                   f"{type(value).__name__} {quote(value)}")
    # RFC 3339 (5.6) allows "t" and "z", which fromisoformat refuses
    text = value.strip().upper()
    # a leap second (23:59:60) is the last instant of its minute: the same day, not the next
    text = _LEAP_SECOND.sub(":59.999999", text, count=1)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArticle(path, f"not an ISO 8601 date-time: {quote(value)}") from None


def publication_time_at(parsed: dt.datetime, path: str) -> dt.datetime:
    """``parsed`` as the UTC publication time an article carries (taken as UTC without an
    offset); ``InvalidArticle`` at ``path`` outside the years stories are dated in."""
    try:
        return publication_time(parsed)
    except ValueError as exc:
        raise InvalidArticle(path, str(exc)) from None


def parse_version(value: Any, path: str) -> int:
    """The item's version: a whole number >= 1, given as digits or an integer."""
    if value is None:
        return 1
    if isinstance(value, bool):
        raise InvalidArticle(path, f"must be a whole number >= 1, got {quote(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        number = int(value.strip())
    else:
        raise InvalidArticle(path, f"must be a whole number >= 1 (digits), got {quote(value)}")
    if number < 1:
        raise InvalidArticle(path, f"must be >= 1, got {number}")
    if number > 2**31 - 1:
        raise InvalidArticle(path, f"is implausibly large: {number}")
    return number


def first_of(items: Iterable[tuple[int, Mapping[str, Any]]], role: str) -> int | None:
    """Index of the first entry with ``role`` (case-insensitive), else of the first entry."""
    first: int | None = None
    for index, item in items:
        if first is None:
            first = index
        item_role = item.get("role")
        if isinstance(item_role, str) and item_role.lower() == role:
            return index
    return first


def check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise InvalidArticle(ROOT, f"item is {size:,} bytes, over the limit of {max_bytes:,} "
                                   "bytes (STORYLINE_MAX_ARTICLE_BYTES)")


def build_article(paths: Mapping[str, str], **values: Any) -> ArticleReceived:
    """The contract model; a constraint the parser did not check itself still names the
    input field (``paths`` maps model fields to input paths)."""
    try:
        return ArticleReceived(**values)
    except ValidationError as exc:
        found = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ROOT
            found.append(InvalidArticle(paths.get(name, name), str(error["msg"])))
        raise InvalidArticle.of(found) from None
