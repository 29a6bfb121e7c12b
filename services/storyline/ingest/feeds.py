"""RSS 2.0 and Atom 1.0 feed documents to articles, one per ``<item>`` / ``<entry>``.

XML is parsed with defusedxml (no entity expansion, no external resources): feeds come
from outside. Descriptions and content are HTML; they become plain text, one paragraph a
line. The outlet is the item's ``<source>`` when given, else the channel or feed title.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from html import escape
from typing import Literal
from xml.etree.ElementTree import Element, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from storyline.domain.events import ArticleReceived, web_address
from storyline.ingest.fields import (
    ROOT,
    InvalidArticle,
    build_article,
    check_size,
    clean_body,
    clean_line,
    parse_datetime,
    publication_time_at,
    quote,
)
from storyline.ingest.htmltext import html_to_text
from storyline.ingest.jsontext import MAX_DEPTH

FeedFormat = Literal["auto", "rss", "atom"]

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a feed: its 1-based position, the article or the error, its XML.
    ``versionless``: the feed gives no revision of it (an RSS item, an Atom entry without
    ``published``), so its version is 1 here and ``storyline ingest`` decides the one it
    goes in under from the log (:mod:`storyline.ingest.versions`). ``undated``: it has no
    publication time of its own (it was given the channel's or feed's, which moves when
    items are added, or an Atom entry's ``updated``, which moves with every edit), so the
    time the log has for it is kept."""

    index: int
    article: ArticleReceived | None
    error: InvalidArticle | None
    raw: str
    versionless: bool = False
    undated: bool = False


def parse_feed(data: bytes, *, fmt: FeedFormat = "auto",
               max_bytes: int | None = None) -> Iterator[FeedItem]:
    """Every item of an RSS or Atom document; raises ``InvalidArticle`` (field ``$``) when
    the document itself is unusable."""
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException) as exc:
        raise InvalidArticle(ROOT, f"not a well-formed XML feed: {exc}") from None
    kind: Literal["rss", "atom"]
    if root.tag == "rss":
        kind = "rss"
    elif root.tag == f"{ATOM}feed":
        kind = "atom"
    else:
        raise InvalidArticle(ROOT, f"not an RSS 2.0 or Atom feed: root element is "
                                   f"<{_local(root.tag)}>")
    if fmt != "auto" and fmt != kind:
        raise InvalidArticle(ROOT, f"expected an {fmt} feed, found {kind}")
    items = _rss_items(root) if kind == "rss" else _atom_items(root)
    for index, (element, parse, versionless, undated) in enumerate(items, start=1):
        raw = ""
        try:
            # cut before anything recursive (tostring) walks it: a few thousand nested
            # elements ended the whole run with a RecursionError
            too_deep = _cut_below(element, MAX_DEPTH)
            raw = tostring(element, encoding="unicode")
            if too_deep:
                raise InvalidArticle(ROOT, f"the item is nested too deeply: more than "
                                           f"{MAX_DEPTH} levels of elements")
            check_size(len(raw.encode()), max_bytes)
            yield FeedItem(index, parse(), None, raw, versionless, undated)
        except InvalidArticle as exc:
            yield FeedItem(index, None, exc, raw)


def _cut_below(element: Element, depth: int) -> bool:
    """Drop the children of elements ``depth`` levels down (``element`` is level 1), without
    recursion; True when there were any (the item is refused, and its raw text is what is
    left)."""
    cut = False
    stack = [(element, 1)]
    while stack:
        node, level = stack.pop()
        if level >= depth and len(node):
            del node[:]
            cut = True
        else:
            stack.extend((child, level + 1) for child in node)
    return cut


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(parent: Element | None, tag: str) -> str | None:
    if parent is None:
        return None
    child = parent.find(tag)
    if child is None or child.text is None:
        return None
    return clean_line(child.text) or None


# The zone at the end of an RFC 822 date, right after the time: a name, an offset (+0100,
# -05:00) or both (GMT-0500). Anything there is read, or the item refused: a zone left to
# parsedate was silently UTC. A trailing "(comment)" is RFC 822's, not the zone.
_RSS_ZONE = re.compile(r"(?<=[\s\d])(?P<name>[A-Za-z]*)(?P<offset>[+-][\d:]*)?\s*$")
_RSS_COMMENT = re.compile(r"\s*\([^()]*\)\s*$")
_RSS_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")
# UTC names, and the RFC 822 US zones by their RFC offsets (hours). Other names (CET, IST,
# BST...) mean different offsets in different places: guessing would date an article hours
# off, so they are refused.
_RSS_ZONE_HOURS = {"GMT": 0, "UT": 0, "UTC": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6,
                   "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}


def _rss_zone(name: str, offset: str | None, path: str) -> dt.timezone:
    zone = name + (offset or "")
    if offset is not None:
        if name and name.upper() not in ("GMT", "UT", "UTC"):
            raise InvalidArticle(path, f"unknown time zone {quote(zone)}")
        parts = _RSS_OFFSET.fullmatch(offset)
        hours = int(parts["hours"]) if parts else 24
        mins = int(parts["minutes"] or 0) if parts else 0
        if parts is None or hours > 23 or mins > 59:
            raise InvalidArticle(path, f"not a time zone offset: {quote(zone)}")
        minutes = (hours * 60 + mins) * (-1 if parts["sign"] == "-" else 1)
    else:
        known = _RSS_ZONE_HOURS.get(name.upper())
        if known is None:
            raise InvalidArticle(path, f"unknown time zone {quote(name)} (give it as an "
                                       "offset, +hhmm)")
        minutes = known * 60
    return dt.timezone(dt.timedelta(minutes=minutes))


def _rss_date(value: str, path: str) -> dt.datetime:
    """An RFC 822 date (the zone read as above; none, -0000 or GMT is UTC), else ISO 8601."""
    text = _RSS_COMMENT.sub("", value.strip())
    match = _RSS_ZONE.search(text)
    zoned = match is not None and bool(match[0].strip())
    head = text[: match.start()] if match is not None and zoned else text
    fields = email.utils.parsedate_tz(head) if head else None
    if fields is None:
        # some feeds put ISO 8601 dates in pubDate
        try:
            return parse_datetime(value, path)
        except InvalidArticle:
            raise InvalidArticle(path, f"not an RFC 822 date: {quote(value)}") from None
    zone = _rss_zone(match["name"], match["offset"], path) if match and zoned else dt.UTC
    try:
        parsed = dt.datetime(*fields[:6], tzinfo=zone)
    except ValueError:
        raise InvalidArticle(path, f"not an RFC 822 date: {quote(value)}") from None
    return publication_time_at(parsed, path)


# an item, its parser, whether it is versionless and whether it is undated (FeedItem)
_Items = Iterator[tuple[Element, Callable[[], ArticleReceived], bool, bool]]


def _rss_items(root: Element) -> _Items:
    channel = root.find("channel")
    if channel is None:
        raise InvalidArticle("channel", "an RSS document needs a <channel>")
    outlet = _text(channel, "title")
    language = _text(channel, "language") or "en"
    # not lastBuildDate: it moves with every rebuild of the feed, so an unchanged item would
    # be dated anew on every poll (a conflicting version of itself)
    feed_date = _text(channel, "pubDate")
    for item in channel.findall("item"):
        # RSS has no revision time: every item is versionless
        undated = _text(item, "pubDate") is None and _text(item, DC_DATE) is None
        yield item, partial(_rss_article, item, outlet, language, feed_date), True, undated


def _rss_article(item: Element, outlet: str | None, language: str,
                 feed_date: str | None) -> ArticleReceived:
    link = _text(item, "link")
    uri = _text(item, "guid") or link
    if not uri:
        raise InvalidArticle("guid", "is required (or link): the item's identifier")
    source = _text(item, "source") or outlet
    if not source:
        raise InvalidArticle("channel.title", "is required (or the item's <source>): the "
                                              "outlet")
    headline = _text(item, "title")
    # content:encoded only when it has text: an empty one used to hide the description
    body = _html_text(item.find(CONTENT_ENCODED)) or _html_text(item.find("description"))
    if not body and not headline:
        raise InvalidArticle("description", "the item has no text and no title")
    date_text = _text(item, "pubDate")
    dc_date = _text(item, DC_DATE)
    if date_text:
        published = _rss_date(date_text, "pubDate")
    elif dc_date:
        published = parse_datetime(dc_date, "dc:date")
    elif feed_date:
        published = _rss_date(feed_date, "channel.pubDate")
    else:
        raise InvalidArticle("pubDate", "is required (or dc:date, or the channel's pubDate): "
                                        "the publication time")
    return build_article({"uri": "guid", "source": "source", "headline": "title",
                          "body": "description", "url": "link", "language": "language"},
                         uri=uri, version=1, source=source, headline=headline, body=body,
                         published=published, language=language, url=web_address(link),
                         wire_format="rss")


def _atom_items(root: Element) -> _Items:
    outlet = _text(root, f"{ATOM}title") or _text(root.find(f"{ATOM}author"), f"{ATOM}name")
    language = root.get(XML_LANG) or "en"
    feed_date = _text(root, f"{ATOM}updated")
    for entry in root.findall(f"{ATOM}entry"):
        # without published there is nothing to measure a revision by (_atom_version)
        # ... and its time is its updated or the feed's, which move: not a publication time
        versionless = _text(entry, f"{ATOM}published") is None
        yield (entry, partial(_atom_article, entry, outlet, language, feed_date), versionless,
               versionless)


def _markup(element: Element, *, text_is_markup: bool) -> str:
    """The HTML inside ``element``: its text, then its child elements serialised. Some feeds
    put HTML there as elements instead of escaped text; reading the text alone dropped it.
    ``text_is_markup``: the text is HTML source (an escaped description), not characters."""
    for child in element:
        for node in child.iter():  # namespaces off (Atom, XHTML), so the HTML reader knows tags
            node.tag = _local(node.tag)
    text = element.text or ""
    return (text if text_is_markup else escape(text, quote=False)) + "".join(
        tostring(child, encoding="unicode", method="html") for child in element)


def _html_text(element: Element | None) -> str:
    """The text of an element holding HTML (an RSS description, Atom html content)."""
    if element is None:
        return ""
    return html_to_text(_markup(element, text_is_markup=True))


def _atom_content(element: Element | None) -> str:
    if element is None:
        return ""
    kind = element.get("type", "text").strip().lower()
    if kind == "xhtml":
        return html_to_text(_markup(element, text_is_markup=False))
    if "html" in kind:  # html, or a MIME type such as text/html
        return _html_text(element)
    # text (the default) is plain text (RFC 4287 3.1.1.1): a "<" or "&amp;" in it is meant
    return clean_body("".join(element.itertext()))


def _atom_link(entry: Element) -> str | None:
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _atom_version(entry: Element, published: dt.datetime) -> int:
    """1, or for an entry its publisher revised (its ``updated`` after its ``published``)
    1 + the seconds between them: a feed carries no version number, and an edited entry
    polled again under version 1 was a conflicting version, its correction lost. Derived
    from the entry alone, so polling the same feed again gives the same versions, an entry
    never revised keeps version 1, and a later revision is always a higher version."""
    if _text(entry, f"{ATOM}published") is None:
        return 1  # its time is its updated time: there is nothing to measure a revision by
    updated = _text(entry, f"{ATOM}updated")
    if updated is None:
        return 1
    revised = parse_datetime(updated, "updated")
    return 1 + max(0, int((revised - published).total_seconds()))


def _atom_article(entry: Element, outlet: str | None, language: str,
                  feed_date: str | None) -> ArticleReceived:
    uri = _text(entry, f"{ATOM}id")
    if not uri:
        raise InvalidArticle("id", "is required: the entry's identifier")
    source = _text(entry.find(f"{ATOM}source"), f"{ATOM}title") or outlet
    if not source:
        raise InvalidArticle("feed.title", "is required (or the entry's <source><title>): "
                                           "the outlet")
    headline = _atom_content(entry.find(f"{ATOM}title")).replace("\n", " ") or None
    body = _atom_content(entry.find(f"{ATOM}content")) or _atom_content(
        entry.find(f"{ATOM}summary"))
    if not body and not headline:
        raise InvalidArticle("content", "the entry has no text and no title")
    for key, value in (("published", _text(entry, f"{ATOM}published")),
                       ("updated", _text(entry, f"{ATOM}updated")),
                       ("feed.updated", feed_date)):
        if value:
            published = parse_datetime(value, key)
            break
    else:
        raise InvalidArticle("published", "is required (or updated): the publication time")
    return build_article({"uri": "id", "source": "source", "headline": "title",
                          "body": "content", "url": "link", "language": "xml:lang"},
                         uri=uri, version=_atom_version(entry, published), source=source,
                         headline=headline, body=body,
                         published=published, language=entry.get(XML_LANG) or language,
                         url=web_address(_atom_link(entry)), wire_format="atom")
