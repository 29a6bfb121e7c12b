"""Storyline's flat JSON article, for feeds that are not ninjs:

    {"uri": "...", "source": "Outlet", "headline": "..." | null, "body": "text",
     "published": "2026-03-03T09:00:00Z", "version": 1, "language": "en",
     "url": "https://...", "pubstatus": "usable"}

``uri``, ``source``, ``body`` and ``published`` are required; unknown keys are rejected so a
misspelt field is caught instead of silently dropped.
"""

from __future__ import annotations

from typing import Any

from storyline.domain.events import ArticleReceived, PubStatus, web_address
from storyline.ingest.fields import (
    ROOT,
    InvalidArticle,
    Problems,
    build_article,
    clean_body,
    join_path,
    parse_datetime,
    parse_version,
    quote,
    text_field,
)

FIELDS = ("uri", "source", "headline", "body", "published", "version", "language", "url",
          "pubstatus")
_FIELD_SET = frozenset(FIELDS)
_PUBSTATUS = {s.value: s for s in PubStatus}


def parse_flat(obj: dict[str, Any]) -> ArticleReceived:
    """One flat JSON article; raises ``InvalidArticle`` naming every problem it has."""
    problems = Problems()
    for key in sorted(k for k in obj if k not in _FIELD_SET):
        problems.add(join_path(ROOT, key), f"is not a field of the JSON article format "
                                           f"(fields: {', '.join(FIELDS)})")
    uri = problems.check(text_field, obj, "uri", "uri", required=True, max_length=2048)
    source = problems.check(text_field, obj, "source", "source", required=True,
                            max_length=200)
    headline = problems.check(text_field, obj, "headline", "headline", max_length=1000)
    raw_body = obj.get("body")
    if not isinstance(raw_body, str):
        problems.add("body", "is required" if raw_body is None else
                     f"must be a string, got {type(raw_body).__name__} {quote(raw_body)}")
    pubstatus = PubStatus.USABLE
    if obj.get("pubstatus") is not None:
        value = obj["pubstatus"]
        status = _PUBSTATUS.get(value) if isinstance(value, str) else None
        if status is None:
            problems.add("pubstatus", f"{quote(value)} is not one of: {', '.join(_PUBSTATUS)}")
        else:
            pubstatus = status
    published = None
    if obj.get("published") is None:
        problems.add("published", "is required: the publication time (ISO 8601)")
    else:
        published = problems.check(parse_datetime, obj["published"], "published")
    version = problems.check(parse_version, obj.get("version"), "version")
    language = problems.check(text_field, obj, "language", "language", max_length=35)
    # like ninjs's: a url that is no http(s) address (too long, relative, javascript:...) is
    # dropped, never the reason to refuse the article
    url = web_address(problems.check(text_field, obj, "url", "url"))
    problems.raise_any()
    body = clean_body(raw_body) if isinstance(raw_body, str) else ""
    if not body and not headline and pubstatus is PubStatus.USABLE:
        raise InvalidArticle("body", "the article has no text and no headline")
    return build_article({}, uri=uri, version=version, source=source, headline=headline,
                         body=body, published=published, language=language or "en",
                         pubstatus=pubstatus, url=url, wire_format="json")
