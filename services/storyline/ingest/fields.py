"""Shared pieces of every wire-format parser: the error type and the field normalisers.

Every check raises :class:`InvalidArticle` naming the field as a JSON path of the *input*
(``bodies[0].value``, ``firstcreated``), so a producer of bad data can find the spot.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from storyline.domain.events import ArticleReceived

ROOT = "$"
"""Field name for errors about the item as a whole (size, not an object, unknown format)."""

_QUOTE_LIMIT = 80


class InvalidArticle(Exception):
    """An item that cannot become an ``ArticleReceived``.

    ``field`` is a JSON path into the input (``$`` for the whole item), ``message`` says what
    is wrong in words; ``source`` and ``line`` locate the item once a file reader knows them.
    """

    def __init__(self, field: str, message: str, *, source: str | None = None,
                 line: int | None = None, unit: str = "line") -> None:
        self.field = field
        self.message = message
        self.source = source
        self.line = line
        self.unit = unit
        super().__init__(self.describe())

    def located(self, source: str | None, line: int | None,
                unit: str = "line") -> InvalidArticle:
        """A copy that knows which file and line (or feed item: ``unit="item"``) it is."""
        return InvalidArticle(self.field, self.message, source=source, line=line, unit=unit)

    def describe(self) -> str:
        position = f"{self.unit} {self.line}" if self.line else None
        where = " ".join(p for p in (self.source, position) if p)
        what = self.message if self.field == ROOT else f"field '{self.field}': {self.message}"
        return f"{where}: {what}" if where else what

    def __str__(self) -> str:
        return self.describe()


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
    """One line: whitespace runs (including non-breaking spaces) become one space."""
    return " ".join(text.split())


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


def parse_datetime(value: Any, path: str) -> dt.datetime:
    """ISO 8601 / RFC 3339 date-time (or a bare date) as an aware UTC datetime.

    A time without a UTC offset is taken as UTC: wire systems that omit it almost always
    mean UTC, and rejecting them would lose the article.
    """
    if not isinstance(value, str):
        raise InvalidArticle(path, f"must be an ISO 8601 date-time string, got "
                                   f"{type(value).__name__} {quote(value)}")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArticle(path, f"not an ISO 8601 date-time: {quote(value)}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidArticle(path, f"date-time out of range: {quote(value)}") from None


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
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ROOT
        raise InvalidArticle(paths.get(name, name), str(error["msg"])) from None
