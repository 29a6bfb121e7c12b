"""Read a file of wire items: JSON lines, one JSON document (object or array), RSS or Atom.

Every item yields a :class:`ParseResult`, valid or not, so a caller can publish the good
ones and dead-letter the bad ones with their line; the file is streamed line by line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from storyline.domain.events import ArticleReceived
from storyline.ingest.embargo import Embargo, embargo_of
from storyline.ingest.feeds import parse_feed
from storyline.ingest.fields import InvalidArticle, check_size
from storyline.ingest.jsontext import decode_json, require_object
from storyline.ingest.normalise import parse_item

FileFormat = Literal["auto", "ninjs", "json", "rss", "atom"]

JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson", ".jsonlines"})
XML_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
RAW_TEXT_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class ParseResult:
    """One item of a file. ``line`` is the line number for JSON lines, otherwise the
    item's 1-based position (``unit`` says which); ``size`` is its length in bytes.
    ``embargo`` is a valid ninjs item's embargo field as written (its ``raw`` is kept then,
    for a dead letter): ``storyline ingest`` checks it against its clock, replay never
    does (:mod:`storyline.ingest.embargo`). The items of a feed are published under the
    version :mod:`storyline.ingest.versions` decides from the log."""

    source: str
    line: int
    article: ArticleReceived | None
    error: InvalidArticle | None
    raw: str
    size: int
    unit: Literal["line", "item"] = "line"
    embargo: Embargo | None = None
    versionless: bool = False  # a feed item with no revision of its own (FeedItem)
    undated: bool = False  # a feed item with no publication time of its own (FeedItem)

    @property
    def ok(self) -> bool:
        return self.article is not None

    @property
    def ref(self) -> str:
        """``file.jsonl:17`` or ``feed.rss#3``: the dead-letter key."""
        return f"{self.source}:{self.line}" if self.unit == "line" else \
            f"{self.source}#{self.line}"


def _raw(data: bytes) -> str:
    return data[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace")


def file_kind(path: Path, fmt: FileFormat = "auto") -> Literal["lines", "document", "feed"]:
    suffix = path.suffix.lower()
    if fmt in ("rss", "atom") or suffix in XML_SUFFIXES:
        return "feed"
    if suffix == ".json":
        return "document"
    return "lines"


def iter_file(path: Path, *, fmt: FileFormat = "auto",
              max_bytes: int | None = None) -> Iterator[ParseResult]:
    """Parse every item of ``path``; OSError propagates (an unreadable file is fatal)."""
    kind = file_kind(path, fmt)
    name = str(path)
    if kind == "feed":
        yield from _iter_feed(path, name, fmt, max_bytes)
    elif kind == "document":
        yield from _iter_document(path, name, fmt, max_bytes)
    else:
        yield from _iter_lines(path, name, fmt, max_bytes)


def _item_format(fmt: FileFormat) -> Literal["auto", "ninjs", "json"]:
    if fmt in ("rss", "atom"):
        raise ValueError(f"--format {fmt} is for XML feeds, not JSON files")
    return fmt  # type: ignore[return-value]


def _iter_lines(path: Path, name: str, fmt: FileFormat,
                max_bytes: int | None) -> Iterator[ParseResult]:
    item_fmt = _item_format(fmt)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            size = len(line)
            if not line.strip():
                continue
            try:
                check_size(len(line.rstrip(b"\r\n")), max_bytes)
                obj = require_object(decode_json(line, one_line=True), one_line=True)
                article = parse_item(obj, fmt=item_fmt)
            except InvalidArticle as exc:
                yield ParseResult(name, number, None, exc.located(name, number), _raw(line),
                                  size)
            else:
                embargo = embargo_of(obj, item_fmt)
                yield ParseResult(name, number, article, None, _raw(line) if embargo else "",
                                  size, embargo=embargo)


def _iter_document(path: Path, name: str, fmt: FileFormat,
                   max_bytes: int | None) -> Iterator[ParseResult]:
    item_fmt = _item_format(fmt)
    data = path.read_bytes()
    try:
        obj = decode_json(data)
    except InvalidArticle as exc:
        yield ParseResult(name, 1, None, exc.located(name, None), _raw(data), len(data), "item")
        return
    items = obj if isinstance(obj, list) else [obj]
    share = len(data) // max(1, len(items))
    for index, item in enumerate(items, start=1):
        try:
            article = parse_item(item, fmt=item_fmt, max_bytes=max_bytes)
        except InvalidArticle as exc:
            raw = _raw(orjson.dumps(item)) if isinstance(item, dict | list) else repr(item)
            yield ParseResult(name, index, None, exc.located(name, index, "item"), raw, share,
                              "item")
        else:
            embargo = embargo_of(item, item_fmt)
            yield ParseResult(name, index, article, None,
                              _raw(orjson.dumps(item)) if embargo else "", share, "item",
                              embargo)


def _iter_feed(path: Path, name: str, fmt: FileFormat,
               max_bytes: int | None) -> Iterator[ParseResult]:
    if fmt in ("ninjs", "json"):
        raise ValueError(f"--format {fmt} is for JSON files, not XML feeds")
    data = path.read_bytes()
    try:
        items = list(parse_feed(data, fmt=fmt, max_bytes=max_bytes))  # type: ignore[arg-type]
    except InvalidArticle as exc:
        yield ParseResult(name, 0, None, exc.located(name, None), _raw(data), len(data),
                          "item")
        return
    share = len(data) // max(1, len(items))
    for item in items:
        error = item.error.located(name, item.index, "item") if item.error else None
        yield ParseResult(name, item.index, item.article, error, item.raw if error else "",
                          share, "item", versionless=item.versionless,
                          undated=item.undated)
