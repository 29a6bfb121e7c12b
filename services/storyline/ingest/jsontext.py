"""Bytes to a JSON value, with errors a producer can act on.

Every ingestor (files, JSON lines, HTTP) decodes through :func:`decode_json`, so the same
bad input gets the same words everywhere: the byte offset of invalid UTF-8 (not a decoder's
complaint about surrogates), one position per message (a column within a JSON line, a line
and column within a document), plain names for what was sent instead of an object (``null``,
an array), and a nesting limit stated as such.
"""

from __future__ import annotations

from typing import Any

import orjson

from storyline.ingest.fields import ROOT, InvalidArticle

# Real articles nest a few levels (ninjs: item -> bodies -> object); anything deeper than
# this is refused before any parser walks it.
MAX_DEPTH = 64

UTF8_BOM = b"\xef\xbb\xbf"


def decode_json(data: bytes, *, one_line: bool = False) -> Any:
    """The JSON value in ``data`` (UTF-8). ``one_line``: ``data`` is one line of a JSON
    lines file, so a position is a column (the trailing newline is not part of it)."""
    if one_line:
        data = data.rstrip(b"\r\n")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticle(ROOT, f"not valid UTF-8: byte 0x{data[exc.start]:02x} at byte "
                                   f"offset {exc.start} ({exc.reason})") from None
    # a byte order mark starting the text (Windows editors and exporters write one) is not
    # JSON, and RFC 8259 8.1 lets a parser ignore it; orjson refuses it, losing the item
    data = data.removeprefix(UTF8_BOM)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        where = (f"column {exc.colno}" if one_line or exc.lineno == 1
                 else f"line {exc.lineno}, column {exc.colno}")
        raise InvalidArticle(ROOT, f"not valid JSON at {where}: {exc.msg}") from None
    depth = nesting_depth(value)
    if depth > MAX_DEPTH:
        raise InvalidArticle(ROOT, f"nested {depth} levels deep; an article may nest at most "
                                   f"{MAX_DEPTH}")
    return value


def nesting_depth(value: Any) -> int:
    """Levels of arrays and objects (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def kind_of(value: Any) -> str:
    """What a JSON value is, in the words of JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def require_object(value: Any, *, one_line: bool = False) -> dict[str, Any]:
    """``value`` when it is a JSON object (an article), else a clear refusal."""
    if isinstance(value, dict):
        return value
    hint = " (one article a line)" if one_line and isinstance(value, list) else ""
    raise InvalidArticle(ROOT, f"an article must be a JSON object, got {kind_of(value)}{hint}")
