"""Parse one wire item into an ``ArticleReceived``: the entry point of every ingestor.

Pure: no I/O, no clock. The HTTP API and the ``storyline ingest`` command both call
:func:`parse_item`; files go through :func:`storyline.ingest.files.iter_file`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from storyline.domain.events import ArticleReceived
from storyline.ingest.fields import ROOT, InvalidArticle, check_size
from storyline.ingest.flatjson import FIELDS as FLAT_FIELDS
from storyline.ingest.flatjson import parse_flat
from storyline.ingest.jsontext import decode_json, require_object
from storyline.ingest.ninjs import NINJS_HINT_KEYS, parse_ninjs

__all__ = ["InvalidArticle", "ItemFormat", "detect_format", "parse_bytes", "parse_item"]

ItemFormat = Literal["auto", "ninjs", "json"]

_FLAT_HINT_KEYS = frozenset({"source", "body", "published"})
# A key both formats have (pubstatus) tells them apart only when nothing else does: a flat
# article's withdrawal used to be read as ninjs and refused.
_NINJS_ONLY_KEYS = NINJS_HINT_KEYS - frozenset(FLAT_FIELDS)


def detect_format(obj: dict[str, Any]) -> Literal["ninjs", "json"]:
    """ninjs when any ninjs-only key is there, the flat JSON article when its keys are,
    else ninjs when a key ninjs shares with the flat format (pubstatus) is."""
    if not _NINJS_ONLY_KEYS.isdisjoint(obj):
        return "ninjs"
    if not _FLAT_HINT_KEYS.isdisjoint(obj):
        return "json"
    if not NINJS_HINT_KEYS.isdisjoint(obj):
        return "ninjs"
    raise InvalidArticle(ROOT, "cannot tell the format: expected a ninjs item (uri, bodies, "
                               "firstcreated, infosources, ...) or a JSON article (uri, "
                               "source, body, published)")


def parse_item(obj: Any, *, fmt: ItemFormat = "auto",
               max_bytes: int | None = None) -> ArticleReceived:
    """One decoded JSON item as an article; raises ``InvalidArticle``.

    ``max_bytes`` bounds the item's size as compact JSON (pass it when the caller did not
    already check the raw bytes).
    """
    obj = require_object(obj)
    if max_bytes is not None:
        try:
            check_size(len(orjson.dumps(obj)), max_bytes)
        except TypeError as exc:  # not JSON data at all (e.g. a set from a Python caller)
            raise InvalidArticle(ROOT, f"not JSON data: {exc}") from None
    chosen = detect_format(obj) if fmt == "auto" else fmt
    try:
        if chosen == "ninjs":
            return parse_ninjs(obj)
        if chosen == "json":
            return parse_flat(obj)
    except RecursionError:
        raise InvalidArticle(ROOT, "the item is nested too deeply") from None
    raise InvalidArticle(ROOT, f"unknown format {fmt!r}: use auto, ninjs or json")


def parse_bytes(data: bytes, *, fmt: ItemFormat = "auto",
                max_bytes: int | None = None) -> ArticleReceived:
    """One JSON document (UTF-8) as an article."""
    check_size(len(data), max_bytes)
    return parse_item(decode_json(data), fmt=fmt)
