"""Flat JSON articles, RSS and Atom feeds, and the file reader over all of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from storyline.ingest.feeds import parse_feed
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.files import iter_file
from storyline.ingest.htmltext import html_to_text
from storyline.ingest.normalise import parse_item

ROOT = Path(__file__).resolve().parents[2]
FLAT: dict[str, Any] = {"uri": "urn:flat:1", "source": "Port Halden Herald",
                        "headline": "Strike called", "body": "Line one.\n\nLine two.",
                        "published": "2026-03-03T12:00:00Z", "version": 2,
                        "url": "https://example.org/a"}


def test_flat_json_article() -> None:
    article = parse_item(FLAT)
    assert article.wire_format == "json"
    assert (article.source, article.body, article.version) == (
        "Port Halden Herald", "Line one.\nLine two.", 2)
    assert article.url == "https://example.org/a"
    assert article.published == dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)
    # a time without offset is taken as UTC; a bare date is midnight UTC
    naive = parse_item(dict(FLAT, published="2026-03-03"), fmt="json")
    assert naive.published == dt.datetime(2026, 3, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(("changes", "field"), [
    ({"source": None}, "source"),
    ({"body": 3}, "body"),
    ({"published": "next week"}, "published"),
    ({"published": None}, "published"),
    ({"headlin": "typo"}, "headlin"),
    ({"pubstatus": "gone"}, "pubstatus"),
    ({"version": True}, "version"),
])
def test_flat_json_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    obj = {k: v for k, v in {**FLAT, **changes}.items() if v is not None}
    with pytest.raises(InvalidArticle) as info:
        parse_item(obj, fmt="json")
    assert info.value.field == field


def test_forced_format_is_respected() -> None:
    flat = {k: v for k, v in FLAT.items() if k != "headline"}
    with pytest.raises(InvalidArticle) as info:
        parse_item(flat, fmt="ninjs")
    assert info.value.field in {"body", "published", "source", "url", "version"}
    assert "ninjs 2.1" in info.value.message


def test_html_to_text() -> None:
    html = "<div><h1>Title</h1><p>A &lt;b&gt; tag\nwrapped</p><ul><li>one</li><li>two</li>" \
           "</ul><style>p{}</style></div>"
    assert html_to_text(html) == "Title\nA <b> tag wrapped\none\ntwo"


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Coast News</title>
<language>en-us</language><pubDate>Mon, 16 Mar 2026 09:00:00 +0100</pubDate>
<item><title>One</title><guid>urn:rss:1</guid><link>https://x.example/1</link>
<pubDate>Sun, 15 Mar 2026 16:20:00 -0500</pubDate>
<description>&lt;p&gt;Para one.&lt;/p&gt;&lt;p&gt;Para two.&lt;/p&gt;</description></item>
<item><title>Two</title><link>https://x.example/2</link><description>Plain.</description></item>
<item><title>Three</title><guid>urn:rss:3</guid><pubDate>not a date</pubDate></item>
<item><description>No id at all</description></item>
</channel></rss>"""


def test_rss_items() -> None:
    items = list(parse_feed(RSS))
    first = items[0].article
    assert first is not None
    assert (first.uri, first.source, first.headline, first.wire_format) == (
        "urn:rss:1", "Coast News", "One", "rss")
    assert first.body == "Para one.\nPara two."
    assert first.published == dt.datetime(2026, 3, 15, 21, 20, tzinfo=dt.UTC)
    assert first.language == "en-us"
    # no guid: the link is the uri; no pubDate: the channel's date
    second = items[1].article
    assert second is not None
    assert second.uri == "https://x.example/2"
    assert second.published == dt.datetime(2026, 3, 16, 8, 0, tzinfo=dt.UTC)
    assert items[2].error is not None and items[2].error.field == "pubDate"
    assert items[3].error is not None and items[3].error.field == "guid"
    assert [i.index for i in items] == [1, 2, 3, 4]


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>Atom Wire</title>
<updated>2026-03-10T00:00:00Z</updated>
<entry><id>tag:atom.example,2026:1</id><title type="html">Deal &lt;em&gt;reached&lt;/em&gt;</title>
<link rel="alternate" href="https://atom.example/1"/><published>2026-03-11T21:40:00Z</published>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Para A.</p><p>Para B.</p></div>
</content></entry>
<entry><id>tag:atom.example,2026:2</id><title>Only summary</title>
<summary>Summary text.</summary><source><title>Other Outlet</title></source></entry>
</feed>"""


def test_atom_entries() -> None:
    items = list(parse_feed(ATOM))
    first, second = items[0].article, items[1].article
    assert first is not None and second is not None
    assert (first.uri, first.headline, first.body, first.url) == (
        "tag:atom.example,2026:1", "Deal reached", "Para A.\nPara B.", "https://atom.example/1")
    assert first.wire_format == "atom"
    assert (second.source, second.body) == ("Other Outlet", "Summary text.")
    assert second.published == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)  # the feed's updated


def test_feed_document_errors() -> None:
    with pytest.raises(InvalidArticle, match="well-formed"):
        list(parse_feed(b"<rss><channel>"))
    with pytest.raises(InvalidArticle, match="root element is <html>"):
        list(parse_feed(b"<html/>"))
    with pytest.raises(InvalidArticle, match="expected an atom feed, found rss"):
        list(parse_feed(RSS, fmt="atom"))
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b"<rss><channel><title>&b;</title></channel></rss>")
    with pytest.raises(InvalidArticle):
        list(parse_feed(bomb))


def test_iter_file_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    lines = [orjson.dumps(FLAT), b"", b"{broken", orjson.dumps(dict(FLAT, source=""))]
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = list(iter_file(path))
    assert [(r.line, r.ok) for r in results] == [(1, True), (3, False), (4, False)]
    assert results[1].ref == f"{path}:3"
    assert str(results[2].error) == f"{path} line 4: field 'source': is empty"
    assert results[1].raw == "{broken\n"
    assert sum(r.size for r in results) == path.stat().st_size - 1  # the blank line


def test_iter_file_json_document_and_array(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_bytes(orjson.dumps(FLAT))
    assert [r.ok for r in iter_file(one)] == [True]
    many = tmp_path / "many.json"
    many.write_bytes(orjson.dumps([FLAT, {"uri": 1}]))
    results = list(iter_file(many))
    assert [(r.ref, r.ok) for r in results] == [(f"{many}#1", True), (f"{many}#2", False)]
    assert str(results[1].error).startswith(f"{many} item 2: ")


def test_iter_file_rejects_mismatched_format(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    path.write_bytes(orjson.dumps(FLAT))
    [result] = list(iter_file(path, fmt="rss"))  # read as XML, as asked
    assert result.error is not None and "not a well-formed XML feed" in result.error.message
    feed = tmp_path / "feed.rss"
    feed.write_bytes(RSS)
    with pytest.raises(ValueError, match="for JSON files"):
        list(iter_file(feed, fmt="ninjs"))


def test_sample_corpus() -> None:
    wire = ROOT / "samples" / "wire"
    articles = [r.article for r in iter_file(wire / "articles.jsonl")]
    assert all(a is not None for a in articles)
    good = [a for a in articles if a is not None]
    assert len(good) >= 14
    assert [a.published for a in good] == sorted(a.published for a in good)
    assert len({a.source for a in good}) >= 4
    # one correction: a uri seen twice, the second with version 2
    by_uri: dict[str, list[int]] = {}
    for a in good:
        by_uri.setdefault(a.uri, []).append(a.version)
    assert [v for v in by_uri.values() if len(v) > 1] == [[1, 2]]
    # one syndicated copy: same body, another outlet and uri
    bodies: dict[str, set[str]] = {}
    for a in good:
        bodies.setdefault(a.body, set()).add(a.source)
    assert sum(1 for outlets in bodies.values() if len(outlets) > 1) == 1
    invalid = list(iter_file(wire / "invalid.jsonl"))
    assert len(invalid) >= 2 and not any(r.ok for r in invalid)
    assert {r.error.field for r in invalid if r.error} >= {"firstcreated"}
    feed = list(iter_file(wire / "feed.rss"))
    assert feed and all(r.ok for r in feed)
