"""IPTC ninjs items (1.x field names, 2.x and 3.x) to ``ArticleReceived``.

2.x and 3.x items are validated against the IPTC JSON Schema of their generation, shipped
in ``schemas/`` (the validators are compiled once per process). 1.x-style items
(``body_text``, ``headline``) have no bundled schema and are checked field by field.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance

from storyline.domain.events import ArticleReceived, PubStatus, web_address
from storyline.ingest.fields import (
    ROOT,
    InvalidArticle,
    Problems,
    build_article,
    clean_body,
    first_of,
    join_path,
    parse_datetime,
    parse_version,
    quote,
    text_field,
)
from storyline.ingest.htmltext import html_to_text

SCHEMA_FILES = {2: "ninjs-schema_2.1.json", 3: "ninjs-schema_3.1.json"}

# Keys only 3.x spells this way (it moved to camelCase) and keys only 1.x has.
_V3_KEYS = frozenset({
    "firstCreated", "versionCreated", "contentCreated", "pubStatus", "infoSources", "altIds",
    "embargoedUntil", "representationType", "edNote", "copyrightHolder", "copyrightNotice",
    "usageTerms", "trustIndicators", "rightsInfo", "digitalSourceType", "eventDetails",
    "plannedCoverage",
})
_V1_KEYS = frozenset({"body_text", "body_html", "body_xhtml", "headline", "description_text",
                      "description_html", "byline"})
NINJS_HINT_KEYS = frozenset({"bodies", "headlines", "firstcreated", "versioncreated",
                             "infosources", "pubstatus", "standard", "type", "representationtype",
                             "body_text", "body_html"}) | _V3_KEYS

# ninjs "withheld" (not to be used for now) is our "withdrawn": pages must drop the article.
_PUBSTATUS = {"usable": PubStatus.USABLE, "withheld": PubStatus.WITHDRAWN,
              "withdrawn": PubStatus.WITHDRAWN, "canceled": PubStatus.CANCELED,
              "cancelled": PubStatus.CANCELED}

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "integer", float: "number",
               bool: "boolean", type(None): "null"}
_UNEXPECTED = re.compile(r"\((.*) (?:was|were) unexpected\)")


def generation(obj: dict[str, Any]) -> int:
    """Which ninjs generation (1, 2 or 3) the item follows."""
    standard = obj.get("standard")
    if isinstance(standard, dict):
        version = standard.get("version")
        if isinstance(version, str) and version[:1] in ("1", "2", "3"):
            return int(version[0])
    if not _V3_KEYS.isdisjoint(obj):
        return 3
    if "bodies" not in obj and not _V1_KEYS.isdisjoint(obj):
        return 1
    return 2


@cache
def validator(gen: int) -> Draft202012Validator:
    """The compiled IPTC schema validator of a ninjs generation (2 or 3)."""
    folder = resources.files("storyline.ingest").joinpath("schemas")
    text = folder.joinpath(SCHEMA_FILES[gen]).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_schema(obj: dict[str, Any], gen: int) -> None:
    """Raise the most relevant schema violation as an ``InvalidArticle``.

    Items of one feed share a shape (keys, nesting, enum values), and whether an item is
    valid depends only on that shape (see :func:`shape`): a shape seen valid is not
    validated again, which saves about two thirds of the parse time.
    """
    key = shape(obj, gen)
    known = _VALID_SHAPES[gen]
    if key is not None and key in known:
        return
    schema_validator = validator(gen)
    if next(schema_validator.iter_errors(obj), None) is None:
        if key is not None:
            if len(known) >= _SHAPE_CACHE_SIZE:
                known.clear()  # a flood of distinct shapes only costs the fast path
            known.add(key)
        return
    errors = sorted(schema_validator.iter_errors(obj), key=relevance)
    first = best_match(iter(errors))
    ordered = [first, *(e for e in errors if e is not first)][:MAX_SCHEMA_PROBLEMS]
    raise InvalidArticle.of(p for error in ordered for p in _from_schema_error(error, gen))


# An item can break the schema in many places; a message naming more is not more useful.
MAX_SCHEMA_PROBLEMS = 10


_SHAPE_CACHE_SIZE = 4096
_VALID_SHAPES: dict[int, set[Any]] = {2: set(), 3: set()}
_VALUE_KEYWORDS = frozenset({"enum", "const", "pattern", "minLength", "maxLength"})
_OPEN_MAPS = ("additionalProperties", "unevaluatedProperties", "patternProperties")


@cache
def string_keys(gen: int) -> frozenset[str] | None:
    """Names of the properties under which the schema looks at string values (enum,
    pattern, length); elsewhere only a string's presence matters, since formats are not
    asserted. None when the schema constrains strings in a way this cannot follow."""
    schema = validator(gen).schema
    defs: dict[str, Any] = schema.get("$defs", {})

    def constrains(node: Any, through: frozenset[str]) -> bool:
        if isinstance(node, list):
            return any(constrains(v, through) for v in node)
        if not isinstance(node, dict):
            return False
        if not _VALUE_KEYWORDS.isdisjoint(node):
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in through:
            return True
        return any(constrains(v, through) for k, v in node.items() if k != "$ref")

    # defs that constrain strings, directly or through a $ref to such a def
    through: frozenset[str] = frozenset()
    while True:
        grown = frozenset(name for name, node in defs.items() if constrains(node, through))
        if grown == through:
            break
        through = grown
    names: set[str] = set()
    unsafe = False

    def collect(node: Any) -> None:
        nonlocal unsafe
        if isinstance(node, list):
            for value in node:
                collect(value)
            return
        if not isinstance(node, dict):
            return
        for keyword in _OPEN_MAPS:
            if isinstance(node.get(keyword), dict) and constrains(node[keyword], through):
                unsafe = True
        properties = node.get("properties")
        if isinstance(properties, dict):
            names.update(k for k, v in properties.items() if constrains(v, through))
        for value in node.values():
            collect(value)

    collect(schema)
    return None if unsafe else frozenset(names)


def shape(obj: Any, gen: int) -> Any:
    """A hashable image of ``obj`` that keeps everything the schema can see: keys,
    nesting, types, numbers, and strings under :func:`string_keys`; other strings become
    ``""``. None when the schema cannot be reduced this way."""
    keep = string_keys(gen)
    if keep is None:
        return None

    def image(value: Any, key: str) -> Any:
        if isinstance(value, str):
            return value if key in keep else ""
        if isinstance(value, dict):
            return ("o", tuple((k, image(v, k)) for k, v in value.items()))
        if isinstance(value, list):
            return ("a", tuple(image(v, key) for v in value))
        return (type(value).__name__, value)

    return image(obj, "")


def _from_schema_error(error: ValidationError, gen: int) -> list[InvalidArticle]:
    path = join_path(ROOT, *error.absolute_path)
    kind = error.validator
    standard = f"ninjs {SCHEMA_FILES[gen][13:16]}"
    if kind == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            return [InvalidArticle(join_path(path, k), f"is required by {standard}")
                    for k in missing]
    if kind in ("additionalProperties", "unevaluatedProperties"):
        match = _UNEXPECTED.search(error.message)
        names = re.findall(r"'([^']*)'", match.group(1)) if match else []
        if names:
            return [InvalidArticle(join_path(path, n), f"is not a field of {standard}")
                    for n in names]
    if kind == "type":
        got = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
        return [InvalidArticle(path, f"must be of type {error.validator_value}, got {got} "
                                     f"{quote(error.instance)}")]
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [InvalidArticle(path, f"{quote(error.instance)} is not one of: {allowed}")]
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return [InvalidArticle(path, f"{message} ({standard} schema, '{kind}')")]


def _names(gen: int) -> dict[str, str]:
    if gen == 3:
        return {"first": "firstCreated", "version": "versionCreated",
                "content": "contentCreated", "pubstatus": "pubStatus",
                "infosources": "infoSources", "contenttype": "contentType",
                "copyright": "copyrightHolder"}
    return {"first": "firstcreated", "version": "versioncreated", "content": "contentcreated",
            "pubstatus": "pubstatus", "infosources": "infosources",
            "contenttype": "contenttype", "copyright": "copyrightholder"}


def parse_ninjs(obj: dict[str, Any], *, validate: bool = True) -> ArticleReceived:
    """One ninjs item as an article; raises ``InvalidArticle`` naming the input field."""
    gen = generation(obj)
    if validate and gen in SCHEMA_FILES:
        validate_schema(obj, gen)
    names = _names(gen)
    problems = Problems()
    uri = problems.check(text_field, obj, "uri", "uri", required=True, max_length=2048)
    version = problems.check(parse_version, obj.get("version"), "version")
    pubstatus = problems.check(_pubstatus, obj, names["pubstatus"]) or PubStatus.USABLE
    published = problems.check(_published, obj, names)
    source, source_path = problems.check(_source, obj, names) or (None, "")
    if gen == 1:
        body, body_path = problems.check(_body_v1, obj) or ("", "body_text")
        headline = problems.check(text_field, obj, "headline", "headline", max_length=1000)
    else:
        body, body_path = problems.check(_body, obj, names["contenttype"]) or ("", "bodies")
        headline = problems.check(_headline, obj, names["contenttype"])
    problems.raise_any()
    # picture and video items carry only a headline: still an article of the story
    if not body and not headline and pubstatus is PubStatus.USABLE:
        raise InvalidArticle(body_path, "the article has no text and no headline")
    language = text_field(obj, "language", "language", max_length=35) or "en"
    url = _web_page(obj, names["contenttype"])
    paths = {"uri": "uri", "version": "version", "source": source_path, "body": body_path,
             "headline": "headlines[0].value" if gen > 1 else "headline",
             "language": "language", "pubstatus": names["pubstatus"],
             "published": names["first"]}
    return build_article(paths, uri=uri, version=version, source=source, headline=headline,
                         body=body, published=published, language=language,
                         pubstatus=pubstatus, url=url, wire_format="ninjs")


def _web_page(obj: dict[str, Any], ct_key: str) -> str | None:
    """The item's web page: the href of its first ``text/html`` rendition that is an
    http(s) address (ninjs has no field for the article's address; the rendition is "the
    URL for accessing the rendition as a resource"). None otherwise: an item without one
    is still an article, so nothing here is an error. (``trustindicators[].href`` points
    at a trust statement, not the article; the fold falls back to an http(s) ``uri``.)"""
    renditions = obj.get("renditions")
    if isinstance(renditions, dict):  # 1.x: an object of named renditions
        renditions = list(renditions.values())
    if not isinstance(renditions, list):
        return None
    for rendition in renditions:
        if not isinstance(rendition, dict):
            continue
        media = rendition.get(ct_key)
        if not isinstance(media, str) or media.split(";")[0].strip().lower() != "text/html":
            continue
        href = rendition.get("href")
        address = web_address(href) if isinstance(href, str) else None
        if address is not None:
            return address
    return None


def _pubstatus(obj: dict[str, Any], key: str) -> PubStatus:
    value = obj.get(key)
    if value is None:
        return PubStatus.USABLE
    status = _PUBSTATUS.get(value.strip().lower()) if isinstance(value, str) else None
    if status is None:
        raise InvalidArticle(key, f"{quote(value)} is not one of: usable, withheld, canceled")
    return status


def _published(obj: dict[str, Any], names: dict[str, str]) -> Any:
    for role in ("first", "version", "content"):
        key = names[role]
        if obj.get(key) is not None:
            return parse_datetime(obj[key], key)
    raise InvalidArticle(names["first"], f"is required (or {names['version']}): the "
                                         "publication time")


def _source(obj: dict[str, Any], names: dict[str, str]) -> tuple[str, str]:
    key = names["infosources"]
    sources = obj.get(key)
    if isinstance(sources, list):
        for index, item in enumerate(sources):
            if isinstance(item, dict):
                path = join_path(key, index, "name")
                name = text_field(item, "name", path, max_length=200)
                if name:
                    return name, path
    copyright_key = names["copyright"]
    holder = text_field(obj, copyright_key, copyright_key, max_length=200)
    if holder:
        return holder, copyright_key
    raise InvalidArticle(join_path(key, 0, "name"), f"is required: the outlet (or give "
                                                    f"{copyright_key})")


def _to_text(value: str, contenttype: Any) -> str:
    if isinstance(contenttype, str) and "html" in contenttype.lower():
        return html_to_text(value)
    return clean_body(value)


def _body(obj: dict[str, Any], ct_key: str) -> tuple[str, str]:
    bodies = obj.get("bodies")
    if bodies is None:
        return "", "bodies"
    if not isinstance(bodies, list):
        raise InvalidArticle("bodies", f"must be an array, got {quote(bodies)}")
    entries = [(i, b) for i, b in enumerate(bodies) if isinstance(b, dict)]
    index = first_of(entries, "main")
    if index is None:
        return "", "bodies"
    entry = bodies[index]
    path = join_path("bodies", index, "value")
    value = entry.get("value")
    if not isinstance(value, str):
        raise InvalidArticle(path, f"must be a string, got {quote(value)}")
    return _to_text(value, entry.get(ct_key)), path


def _body_v1(obj: dict[str, Any]) -> tuple[str, str]:
    for key, html in (("body_text", False), ("body_html", True), ("body_xhtml", True)):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidArticle(key, f"must be a string, got {quote(value)}")
        return (html_to_text(value) if html else clean_body(value)), key
    return "", "body_text"


def _headline(obj: dict[str, Any], ct_key: str) -> str | None:
    headlines = obj.get("headlines")
    if not isinstance(headlines, list):
        return None
    entries = [(i, h) for i, h in enumerate(headlines) if isinstance(h, dict)]
    index = first_of(entries, "main")
    if index is None:
        return None
    entry = headlines[index]
    path = join_path("headlines", index, "value")
    value = entry.get("value")
    if not isinstance(value, str):
        raise InvalidArticle(path, f"must be a string, got {quote(value)}")
    text = " ".join(_to_text(value, entry.get(ct_key)).splitlines())
    if len(text) > 1000:
        raise InvalidArticle(path, f"is {len(text)} characters long, the limit is 1000")
    return text or None
